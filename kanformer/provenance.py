"""Where and when a result was produced: hardware, library versions and a timestamp, recorded with every result."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


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


CORE_PACKAGES = ("kanformer", "torch", "transformers", "datasets", "accelerate", "evaluate")


def timestamp() -> str:
    """Now, in UTC, the one format of every report and results file: ``2026-11-30T06:02:13Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def environment(device: str = "cpu", packages: tuple[str, ...] = ()) -> dict[str, object]:
    """A JSON-able description of the machine and software: the core libraries' versions and
    those of ``packages`` (what an experiment leans on besides them)."""
    import torch  # here: timestamps and report rendering should not pay for torch

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
    for pkg in (*CORE_PACKAGES, *packages):
        info[pkg] = _version(pkg)
    return info


def describe(info: dict[str, object]) -> str:
    """One line for reports, e.g. 'CPU, 2 cores (Intel ...), torch 2.13.0'."""
    if info.get("gpu"):
        where = f"GPU {info['gpu']} (CUDA {info['cuda']})"
    else:
        where = f"CPU, {info['cpu_cores']} cores ({info['cpu']})"
    return f"{where}, torch {info['torch']}, Python {info['python']}"
