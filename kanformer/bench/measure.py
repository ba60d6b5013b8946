"""Timing and memory measurement shared by every benchmark.

Times are wall-clock medians over repeats after warm-up, with the device synchronised
(CUDA events on GPU). Memory is reported two ways:

* ``saved``: bytes autograd keeps for backward (exact, from saved_tensors_hooks);
* ``peak``: the peak of live memory during one forward+backward above what was live
  before it: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU the process' peak
  resident set (VmHWM, reset through /proc/self/clear_refs), which includes allocator
  and page granularity, so read small differences with care.
"""

from __future__ import annotations

import ctypes
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    """Milliseconds per call: median, 5th and 95th percentiles over ``repeats``, and the very first call."""

    median_ms: float
    p05_ms: float
    p95_ms: float
    repeats: int
    first_ms: float

    @property
    def compile_s(self) -> float:
        """One-off cost in seconds, the first call less a steady one: torch.compile's compilation where
        a kernel is compiled on first use (fused=True), otherwise only first-call overheads."""
        return max(self.first_ms - self.median_ms, 0.0) / 1e3


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(fn: Callable[[], object], device: torch.device, warmup: int = 3, repeats: int = 10) -> Timing:
    """Time ``fn`` (a closure doing the whole measured step); the first call (warm-up or not) is kept apart."""
    return time_fns([fn], device, warmup, repeats)[0]


def time_fns(
    fns: Sequence[Callable[[], object]], device: torch.device, warmup: int = 3, repeats: int = 10
) -> list[Timing]:
    """Time several closures round-robin: every round calls each one once, in order.

    Timed back to back, two models compared on a machine whose speed drifts (a shared VM, a
    throttling GPU) would each see a different machine; interleaved, a slow spell slows every
    closure alike and their ratios stay fair. Returns one :class:`Timing` per closure, in order;
    each closure's first call is kept apart (``first_ms``) and counts as one of the ``warmup`` calls.
    """
    firsts = []
    for fn in fns:
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        firsts.append((time.perf_counter() - t0) * 1e3)
    for _ in range(warmup - 1):
        for fn in fns:
            fn()
    synchronize(device)
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            samples[i].append(_call_ms(fn, device))
    return [_timing(s, first) for s, first in zip(samples, firsts, strict=True)]


def _call_ms(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def _timing(samples: list[float], first_ms: float) -> Timing:
    samples = sorted(samples)
    q = statistics.quantiles(samples, n=20, method="inclusive") if len(samples) > 1 else samples * 19
    return Timing(statistics.median(samples), q[0], q[-1], len(samples), first_ms)


def saved_bytes(fn: Callable[[], torch.Tensor], exclude: Iterable[torch.Tensor] = ()) -> int:
    """Bytes autograd saves for backward during ``fn()`` (the forward only).

    Tensors sharing storage with ``exclude`` (the module's parameters, the input) are not
    counted: they are live anyway. Each storage counts once.
    """
    seen = {t.untyped_storage().data_ptr() for t in exclude}
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen:
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def _proc_status(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+) kB", f.read()).group(1)) * 1024


def _reset_cpu_peak() -> bool:
    # Return freed heap pages to the OS first, so the resident set is the live memory.
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_bytes(fn: Callable[[], object], device: torch.device) -> int | None:
    """Peak live memory of one ``fn()`` call above the memory live before it.

    None where it cannot be measured (a CPU without /proc/self/clear_refs).
    """
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    if not _reset_cpu_peak():
        return None
    before = _proc_status("VmRSS")
    fn()
    return max(_proc_status("VmHWM") - before, 0)
