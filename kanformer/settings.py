"""Typed settings from YAML files and ``key=value`` pairs, for any config dataclass.

    cfg = parse_settings(KANFFNConfig, "ffn.yaml", ["form=grkan", "layers=[0,1]"])

Values are read as YAML 1.2 (:func:`load_yaml`) and converted to the dataclass' field types;
every problem (unknown key, wrong type, unreadable file) is one ValueError line.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `mixed_precision: no` stays "no"."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 booleans (yes/no/on/off are strings)."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def _describe(hint: Any) -> str:
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false"}
    if typing.get_origin(hint) is tuple:
        return "a list [low, high]"
    if typing.get_origin(hint) is list:
        return "a list of integers"
    if isinstance(hint, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    return names.get(hint, str(hint))


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """``value`` (as parsed from YAML) as the type of dataclass field ``name``; ValueError if it cannot be."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    is_bool = isinstance(value, bool)
    is_int = isinstance(value, int) and not is_bool
    for option in options:
        origin = typing.get_origin(option)
        if option is bool and is_bool:
            return value
        if option is int and is_int:
            return value
        if option is float:
            if is_int or isinstance(value, float):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)  # YAML 1.1 reads 1e-2 as text
                except ValueError:
                    pass
        if origin is list:
            if is_int:
                return [value]
            if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                return value
        if origin is tuple and isinstance(value, (list, tuple)) and len(value) == len(typing.get_args(option)):
            try:
                if not any(isinstance(v, bool) for v in value):
                    return tuple(float(v) for v in value)
            except (TypeError, ValueError):
                pass
    if str in options and isinstance(value, (str, int, float, bool)):
        return value if isinstance(value, str) else str(value)  # e.g. basis: 1 -> '1', reported by validate()
    raise ValueError(f"{name}={value!r} ({_describe(hint)})")


def from_settings(cls: type[T], settings: Mapping[str, Any], what: str = "KAN FFN") -> T:
    """A ``cls`` dataclass from loosely typed settings (a YAML mapping): keys may use - for _,
    numbers given as text are converted; every problem is a one-line ValueError."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    unknown, problems = [], []
    for key, value in settings.items():
        name = _key(key)
        if name not in hints:
            unknown.append(str(key))
        elif value is None:
            problems.append(f"{name} has no value")
        else:
            try:
                values[name] = _coerce(name, value, hints[name])
            except ValueError as err:
                problems.append(str(err))
    if unknown:
        close = [m for k in unknown for m in difflib.get_close_matches(k.replace("-", "_"), hints, n=1)]
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown {what} setting(s) {unknown}{hint}; known: {', '.join(hints)}")
    if problems:
        raise ValueError(f"invalid {what} settings: " + "; ".join(problems))
    try:
        return cls(**values)
    except TypeError as err:  # a value of a type validate() does not expect
        raise ValueError(f"invalid {what} settings: {err}") from None


def read_yaml(path: str) -> dict[str, Any]:
    """A YAML file holding a mapping; every problem is a one-line ValueError."""
    if not os.path.exists(path):
        raise ValueError(f"settings file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"settings file {path!r} is a directory, not a YAML file")
    try:
        with open(path, encoding="utf-8") as f:
            data = load_yaml(f.read())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        raise ValueError(f"settings file {path!r} is not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"settings file {path!r} cannot be read: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(
            f"settings file {path!r} must hold a mapping of settings (e.g. 'form: grkan'), not a {type(data).__name__}"
        )
    return data


def parse_settings(cls: type[T], path: str | None = None, pairs: Sequence[str] = (), what: str = "KAN FFN") -> T | None:
    """``cls`` settings from an optional YAML file overridden by ``key=value`` strings.

    Values are read with :func:`load_yaml`, so ``grid_size=7``, ``grid_range=[-2,2]``,
    ``layers=[0,1]`` and ``fused=true`` have their natural types. Returns None when
    neither a file nor pairs are given (meaning: the defaults, or the settings a
    kanified model already has).
    """
    if path is None and not pairs:
        return None
    settings = {_key(k): v for k, v in (read_yaml(path) if path is not None else {}).items()}
    settings.update(parse_key_values(pairs))
    return from_settings(cls, settings, what)


def parse_key_values(pairs: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b=[0,1]"]`` -> ``{"a": 1, "b": [0, 1]}`` (values read as YAML, ``-`` in keys as ``_``)."""
    out: dict[str, Any] = {}
    for item in pairs:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"setting {item!r} is not key=value (e.g. form=grkan hidden=match-params layers=[0,1])")
        try:
            out[_key(key)] = load_yaml(text)
        except yaml.YAMLError:
            raise ValueError(
                f"setting {item!r}: the value {text!r} cannot be read (quote it or fix the brackets)"
            ) from None
    return out


def _key(key: object) -> str:
    return str(key).strip().replace("-", "_")


# -------------------------------------------------------------- measurement
