"""Where a measurement ran: hardware and library versions, recorded with every result."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

import torch


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def environment(device: str = "cpu") -> dict[str, object]:
    """A JSON-able description of the machine and software."""
    dev = torch.device(device)
    info: dict[str, object] = {
        "device": device,
        "cpu": _cpu_model(),
        "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
        info["cuda"] = torch.version.cuda
    for pkg in ("kanformer", "torch", "transformers", "datasets", "accelerate", "evaluate"):
        info[pkg] = _version(pkg)
    return info


def describe(info: dict[str, object]) -> str:
    """One line for reports, e.g. 'CPU, 2 cores (Intel ...), torch 2.13.0'."""
    if info.get("gpu"):
        where = f"GPU {info['gpu']} (CUDA {info['cuda']})"
    else:
        where = f"CPU, {info['cpu_cores']} cores ({info['cpu']})"
    return f"{where}, torch {info['torch']}, Python {info['python']}"
