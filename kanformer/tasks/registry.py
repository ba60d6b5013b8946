"""Tasks: one frozen :class:`Task` per benchmark, read from a declarative task file.

The shipped tasks are the YAML files under ``kanformer/tasks/definitions/`` (package data), named by
their path there: ``glue/mrpc.yaml`` is ``"glue/mrpc"``. :data:`TASKS` holds them by name, and
:func:`get_task` also accepts the path of any task file (``my-task.yaml``); :mod:`kanformer.tasks.files`
reads and checks those files. A new kind of local source needs one loader in
:mod:`kanformer.tasks.loading`; anything ``datasets`` loads (a Hub id, or local csv/json/parquet
files and image folders through ``data_files``) needs none.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from pathlib import Path

from .files import load_task_file
from .task import DEFINITIONS_DIR, IMAGE, TASK_FILE_SUFFIXES, TEXT, Task


class _Registry(Mapping[str, Task]):
    """The shipped tasks by name, read from :data:`DEFINITIONS_DIR` on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._tasks: dict[str, Task] | None = None

    def _load(self) -> dict[str, Task]:
        if self._tasks is None:
            files = sorted(p for suffix in TASK_FILE_SUFFIXES for p in self.directory.rglob(f"*{suffix}"))
            tasks = {}
            for path in files:
                name = path.relative_to(self.directory).with_suffix("").as_posix()
                tasks[name] = load_task_file(path, name=name)
            self._tasks = dict(sorted(tasks.items(), key=lambda item: _ORDER.get(item[0], (len(_ORDER), item[0]))))
        return self._tasks

    def __getitem__(self, name: str) -> Task:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"TASKS({', '.join(self)})"


_ORDER = {
    name: (i, name)
    for i, name in enumerate(
        [f"glue/{t}" for t in ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")]
        + ["cifar10", "cifar100", "fashion-mnist", "digits", "bbc-news"]
    )
}
"""Listing order of the shipped tasks (GLUE first, in GLUE's order); others follow by name."""

TASKS: Mapping[str, Task] = _Registry(DEFINITIONS_DIR)
"""Every shipped task by name: ``glue/<task>``, ``cifar10``, ``cifar100``, ``fashion-mnist``, ``digits``,
``bbc-news`` (read from the task files on first use)."""


def is_task_file(name: str) -> bool:
    """Whether ``name`` names a task file (a .yaml/.yml path) rather than a registered task."""
    return name.endswith(TASK_FILE_SUFFIXES)


def get_task(name: str | Path | Task) -> Task:
    """The task registered as ``name``, or read from the task file ``name`` (a path ending in .yaml or
    .yml); a :class:`Task` is returned as is. Every problem is a one-line ValueError (an unknown name
    lists the known ones; a task file's problems name the file and the fields)."""
    if isinstance(name, Task):
        return name
    if isinstance(name, Path) or (isinstance(name, str) and is_task_file(name)):
        return load_task_file(name)
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(name, TASKS, n=1) if isinstance(name, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown task {name!r}{hint}; known tasks: {', '.join(TASKS)}; or the path of a task file (.yaml)"
        ) from None


__all__ = ["DEFINITIONS_DIR", "IMAGE", "TASKS", "TEXT", "Task", "get_task", "is_task_file"]
