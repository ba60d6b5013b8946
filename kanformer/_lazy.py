"""Public names of a package imported on first access (PEP 562), so importing the package stays cheap.

    __getattr__, __dir__ = lazy_exports(__name__, {"KANLinear": ".layers", "kanify": ".plugin.kanify"})

Each name is looked up in its module (relative to the package) the first time it is read,
then cached in the package's namespace. A name shared with a submodule (``kanformer.plugin.kanify``,
the function in the module of the same name) stays the exported object: importing the submodule
does not replace it with the module (it is still in ``sys.modules``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package`` for ``exports`` (name -> module)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name], package), name)
        setattr(sys.modules[package], name, value)  # later reads skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    shadowed = {name for name, module in exports.items() if module == "." + name}
    if shadowed:
        module = sys.modules[package]

        class _Package(types.ModuleType):
            def __setattr__(self, name: str, value: Any) -> None:
                if name in shadowed and isinstance(value, types.ModuleType):
                    # the import system binding the submodule: load the export instead
                    value = getattr(value, name)
                super().__setattr__(name, value)

        module.__class__ = _Package

    return __getattr__, __dir__
