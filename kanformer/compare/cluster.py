"""The ``cluster:`` block of a comparison config (and ``--slurm key=value``): keys and checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: keys of a config's ``cluster:`` block and of ``--slurm key=value`` -> what they mean
CLUSTER_KEYS = {
    "partition": "SLURM partition",
    "time": "time limit per job: minutes or [D-]HH:MM:SS",
    "account": "account charged",
    "cpus": "CPUs per job (cpus-per-task)",
    "mem": "memory per job, e.g. 64G",
    "constraint": "node features, e.g. a100",
    "qos": "quality of service",
    "exclude": "nodes to avoid",
    "gpus_per_run": "GPUs per training job (--gpus-per-run)",
    "max_parallel": "jobs of an array running at once (--max-parallel)",
    "setup": "shell lines run before each job (module load ..., source venv/bin/activate)",
}


def minutes(value: Any) -> int:
    """A SLURM time limit (minutes, or [D-]HH:MM:SS) in whole minutes; ValueError if unreadable."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d\d)(?::(\d\d))?", str(value).strip())
    if not m:
        raise ValueError(f"time={value!r}: give minutes or [D-]HH:MM:SS")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return max(1, days * 1440 + hours * 60 + minutes + (seconds > 0))


def check_cluster(options: Mapping[str, Any]) -> list[str]:
    """Problems of a ``cluster:`` block (or of ``--slurm`` pairs), one line each."""
    problems = []
    unknown = sorted(set(map(str, options)) - set(CLUSTER_KEYS))
    if unknown:
        problems.append(f"unknown cluster setting(s) {unknown}; known: {', '.join(CLUSTER_KEYS)}")
    for key in ("cpus", "gpus_per_run", "max_parallel"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            problems.append(f"cluster {key}={value!r} must be an integer >= 1")
    if options.get("time") is not None:
        try:
            minutes(options["time"])
        except ValueError as err:
            problems.append(f"cluster {err}")
    setup = options.get("setup")
    if setup is not None and not (isinstance(setup, list) and all(isinstance(s, str) for s in setup)):
        problems.append("cluster setup must be a list of shell lines")
    return problems


__all__ = ["CLUSTER_KEYS", "check_cluster", "minutes"]
