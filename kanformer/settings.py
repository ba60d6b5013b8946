"""One settings system for every config dataclass: declared, validated and parsed in one place.

Declare each field with :func:`setting` (help text, allowed values, a check)::

    @dataclass
    class BenchSettings:
        batch_size: int = setting(8, "samples per batch", check=at_least(1))
        dtype: str = setting("fp32", "autocast dtype", choices=("fp32", "bf16", "fp16"))

        def __post_init__(self) -> None:
            validate(self, "bench")

:func:`validate` checks every field (type, choices, check, then the class' ``cross_checks(invalid)``)
and raises one :class:`SettingsError` line listing every problem:
``invalid bench settings: batch_size=0 (must be >= 1); dtype='x' (choose one of ['fp32', ...])``.

:func:`parse_settings` / :func:`from_settings` read a YAML file, flag values and ``key=value``
strings with one parser (values read as YAML 1.2, then converted to the field types: lists,
tuples, unions with None, Literal, nested dataclasses). :func:`add_setting_flags` adds a
``--<field>`` flag per field to an argparse parser, its help taken from the same metadata.

    cfg = parse_settings(KANFFNConfig, "ffn.yaml", ["form=grkan", "layers=[0,1]"])
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import types
import typing
from argparse import SUPPRESS
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, field, fields, is_dataclass
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


class SettingsError(ValueError):
    """Invalid settings: one line, ``invalid <what> settings: a=1 (must be > 0); b='x' (choose one of [...])``.

    ``problems`` holds the ``name=value (what is allowed)`` parts."""

    def __init__(self, what: str, problems: Sequence[str], message: str | None = None) -> None:
        self.what, self.problems = what, list(problems)
        super().__init__(message or f"invalid {what} settings: " + "; ".join(self.problems))


Check = tuple[Callable[[Any], bool], str]


def setting(
    default: Any = MISSING,
    help: str = "",  # noqa: A002 - the argparse word
    *,
    choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
    check: Check | None = None,
    default_factory: Callable[[], Any] | Any = MISSING,
    flag: bool = True,
) -> Any:
    """A dataclass field with its help, allowed values and check (``(predicate, "must be > 0")``),
    read by :func:`validate`, :func:`add_setting_flags` and :func:`settings_epilog`. ``choices``
    may be a function (evaluated when validating: registries filled at import). ``flag=False``:
    no ``--<field>`` flag (a mapping or a nested config is set in YAML or as key=value)."""
    meta = {"help": help, "choices": choices, "check": check, "flag": flag}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def at_least(low: float) -> Check:
    return (lambda v: all(x >= low for x in v) if isinstance(v, list) else v >= low), f"must be >= {low}"


def above(low: float) -> Check:
    return (lambda v: v > low), f"must be > {low}"


def between(low: float, high: float, *, open_high: bool = False) -> Check:
    if open_high:
        return (lambda v: low <= v < high), f"must be in [{low}, {high})"
    return (lambda v: low <= v <= high), f"must be in [{low}, {high}]"


def help_of(f: Field) -> str:
    return str(f.metadata.get("help") or "")


def choices_of(f: Field) -> tuple[Any, ...] | None:
    choices = f.metadata.get("choices")
    if choices is None:
        return None
    return tuple(choices() if callable(choices) else choices)


def problem(obj: Any, name: str, text: str) -> str:
    """One problem in the common format: ``name=value (text)``."""
    return f"{name}={getattr(obj, name)!r} ({text})"


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _options(hint: Any) -> tuple[Any, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (bool is not an int; an int is a float)."""
    if hint is Any:
        return True
    options = _options(hint)
    if len(options) > 1:
        return any(_matches(value, h) for h in options)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list:
        return isinstance(value, list) and (not args or all(_matches(v, args[0]) for v in value))
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, h) for v, h in zip(value, args, strict=True))
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, origin or hint) if isinstance(origin or hint, type) else True


def describe(hint: Any) -> str:
    """What a value of type ``hint`` looks like, for messages and help."""
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}
    options = _options(hint)
    if len(options) > 1:
        return " or ".join(describe(h) for h in options)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return f"one of {list(args)}"
    if origin is list:
        inner = {str: "texts", int: "integers", float: "numbers"}.get(args[0], describe(args[0])) if args else "values"
        return f"a list of {inner}"
    if origin is tuple:
        if len(args) == 2 and args[1] is not Ellipsis:
            return "a list [low, high]"
        return f"a list of {len(args)} values"
    if origin is dict:
        return "a mapping"
    if is_dataclass(hint):
        return f"a mapping of {hint.__name__} settings"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


class _NoMatch(Exception):
    pass


def _convert(name: str, value: Any, hint: Any, lenient: bool) -> Any:
    """``value`` as type ``hint``, or _NoMatch; SettingsError for a nested dataclass' problems."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    is_bool = isinstance(value, bool)
    if hint is Any:
        return value
    if hint is type(None) or hint is bool or origin is typing.Literal or hint is int or hint is str:
        if _matches(value, hint):
            return value
        if lenient and hint is str and isinstance(value, (int, float, bool)):
            return str(value)  # e.g. basis: 1 -> '1', then reported against the choices
        raise _NoMatch
    if hint is float:
        if _matches(value, float):
            return float(value)
        if lenient and isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads 1e-2 as text
            except ValueError:
                pass
        raise _NoMatch
    if origin is list:
        inner = args[0] if args else Any
        if isinstance(value, (list, tuple)):
            out, problems = [], []
            for i, v in enumerate(value):  # every item's problems, not only the first one's
                try:
                    out.append(_coerce(f"{name}[{i}]", v, inner))
                except SettingsError as err:
                    problems += err.problems
            if problems:
                raise SettingsError(name, problems)
            return out
        if lenient and not isinstance(value, Mapping) and value is not None and not is_bool:
            return [_coerce(name, value, inner)]  # one value for a list of one
        raise _NoMatch
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _NoMatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(name, v, args[0]) for v in value)
        if len(value) != len(args):
            raise _NoMatch
        return tuple(_coerce(name, v, h) for v, h in zip(value, args, strict=True))
    if origin is dict:
        if isinstance(value, Mapping):
            return dict(value)
        raise _NoMatch
    if is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, Mapping):
            try:
                return from_settings(hint, value, what=name)
            except SettingsError as err:  # its problems named by their path: functions[0].grids=[5, 3] (...)
                raise SettingsError(name, [_nested(name, p, hint) for p in err.problems]) from None
        raise _NoMatch
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise _NoMatch


def _field_of(text: str) -> str | None:
    """The field a problem names first (``grid_size=0 (...)``, ``functions must be ...``), if any."""
    first = re.match(r"(\w+)[= ]", text)
    return first.group(1) if first else None


def _nested(name: str, text: str, cls: type) -> str:
    """A problem of a nested settings mapping, named by its path (``functions[0].grids=...``)."""
    if _field_of(text) in {f.name for f in fields(cls)}:
        return f"{name}.{text}"
    return text if name in text else f"{name}: {text}"


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """``value`` (as parsed from YAML) as the type of field ``name``: exact types first, then
    conversions (text to number, one value to a list of one); ValueError ``name=value (type)``."""
    options = _options(hint)
    for lenient in (False, True):
        # Converting to text is the last resort: layers=1 is [1] for ``str | list[int]``, not '1'.
        for option in sorted(options, key=lambda h: h is str) if lenient else options:
            try:
                return _convert(name, value, option, lenient)
            except _NoMatch:
                continue
            except SettingsError:
                if lenient or len(options) == 1:
                    raise
    raise SettingsError(name, [f"{name}={value!r} ({describe(hint)})"])


def _accepts_none(hint: Any) -> bool:
    return hint is Any or type(None) in _options(hint)


def validate(obj: Any, what: str) -> None:
    """Check every field of the dataclass ``obj`` against its type, choices and check, then its
    ``cross_checks(invalid)`` (a list of problems; ``invalid`` names the fields already reported, whose
    checks it skips, so each problem is reported once); one SettingsError line lists every problem."""
    problems: list[str] = []
    invalid: set[str] = set()
    hints = _hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        hint = hints[f.name]
        if not _matches(value, hint):
            problems.append(f"{f.name}={value!r} ({describe(hint)})")
            invalid.add(f.name)
            continue
        if value is None:
            continue
        choices = choices_of(f)
        if choices is not None:
            items = value if isinstance(value, list) else [value]
            unknown = [v for v in items if isinstance(v, str) and v not in choices]
            if unknown and isinstance(value, list):
                problems.append(f"{f.name}={value!r} ({unknown} not known; choose from {list(choices)})")
                invalid.add(f.name)
                continue
            if unknown:
                problems.append(f"{f.name}={value!r} (choose one of {list(choices)})")
                invalid.add(f.name)
                continue
        check = f.metadata.get("check")
        if check is not None and not (isinstance(value, str) and choices is not None):
            ok, text = check
            try:
                good = bool(ok(value))
            except (TypeError, ValueError):
                good = False
            if not good:
                problems.append(f"{f.name}={value!r} ({text})")
                invalid.add(f.name)
    if hasattr(obj, "cross_checks"):
        try:
            problems += list(obj.cross_checks(frozenset(invalid)))
        except (TypeError, ValueError, AttributeError, IndexError):
            if not problems:  # a cross-check tripping over an invalid field is that field's problem
                raise
    if problems:
        raise SettingsError(what, list(dict.fromkeys(problems)))  # each problem once


def from_settings(cls: type[T], settings: Mapping[str, Any], what: str = "KAN FFN") -> T:
    """A ``cls`` dataclass from loosely typed settings (a YAML mapping, flags, key=value): keys may
    use - for _, values are converted to the field types; every problem is one SettingsError line."""
    hints = _hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    values: dict[str, Any] = {}
    unknown, problems, failed = [], [], set()
    for key, value in settings.items():
        name = _key(key)
        if name not in known:
            unknown.append(str(key))
        elif value is None and not _accepts_none(hints[name]):
            problems.append(f"{name} has no value")
            failed.add(name)
        else:
            try:
                values[name] = _coerce(name, value, hints[name])
            except SettingsError as err:
                problems += err.problems
                failed.add(name)
    if unknown:
        close = [m for k in unknown for m in difflib.get_close_matches(_key(k), known, n=1)]
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        message = f"unknown {what} setting(s) {unknown}{hint}; known: {', '.join(known)}"
        raise SettingsError(what, [message], message)
    required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [n for n in required if n not in values]
    problems += [f"{n} is missing" for n in missing if _key(n) not in map(_key, settings)]
    if not missing:
        try:
            obj = cls(**values)
        except SettingsError as err:  # the checks of the fields that converted (not the defaults of the others)
            problems += [p for p in err.problems if _field_of(p) not in failed]
        else:
            if not problems:
                return obj
    raise SettingsError(what, problems)


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


def settings_from(
    cls: type[T],
    path: str | None = None,
    flags: Mapping[str, Any] | None = None,
    pairs: Sequence[str] = (),
    what: str = "KAN FFN",
) -> T:
    """``cls`` settings from a YAML file, then flag values (:func:`flag_values`), then ``key=value`` strings."""
    settings = {_key(k): v for k, v in (read_yaml(path) if path else {}).items()}
    settings.update(flags or {})
    settings.update(parse_key_values(pairs))
    return from_settings(cls, settings, what)


def parse_value(text: str) -> Any:
    """One value as typed on a command line: read as YAML (``7``, ``[0,1]``, ``true``, ``null``)."""
    try:
        return load_yaml(text)
    except yaml.YAMLError:
        raise ValueError(f"the value {text!r} cannot be read (quote it or fix the brackets)") from None


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


# ----------------------------------------------------------- command line
_FLAG_PREFIX = "setting__"


def _flag_shape(hint: Any) -> tuple[Any, bool]:
    """(nargs, whether one value stays a scalar) of a flag for a field of type ``hint``."""
    options = [h for h in _options(hint) if h is not type(None)]
    lists = [h for h in options if typing.get_origin(h) in (list, tuple)]
    if not lists:
        return None, False
    args = typing.get_args(lists[0])
    if typing.get_origin(lists[0]) is tuple and args and args[-1] is not Ellipsis:
        return len(args), False
    return "+", len(options) > 1


def _metavar(hint: Any) -> str:
    options = [h for h in _options(hint) if h is not type(None)]
    base = options[0]
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        base = typing.get_args(base)[0] if typing.get_args(base) else str
    return {int: "N", float: "X", str: "TEXT"}.get(base, "VALUE")


def field_help(f: Field, hint: Any, default: Any = MISSING) -> str:
    """A field's help line: its help (or type), choices and default."""
    text = help_of(f) or describe(hint)
    choices = f.metadata.get("choices")
    if choices is not None and not callable(choices):
        text += f" ({' | '.join(map(str, choices))})"
    if default is not MISSING:
        text += f" (default: {default})"
    return text.replace("%", "%%")


def _default(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def add_setting_flags(
    parser: argparse.ArgumentParser, cls: type, skip: Sequence[str] = (), title: str | None = None
) -> None:
    """A ``--<field>`` flag for every field of ``cls`` (but ``skip`` and fields declared with
    ``flag=False``), help from the field metadata; booleans get ``--x/--no-x``, lists take several
    values. Read them back with :func:`flag_values`; values go through the settings parser."""
    group = parser.add_argument_group(title or f"{cls.__name__} settings")
    hints = _hints(cls)
    for f in fields(cls):
        if not f.init or f.name in skip or not f.metadata.get("flag", True):
            continue
        hint = hints[f.name]
        flag = "--" + f.name.replace("_", "-")
        dest = _FLAG_PREFIX + f.name
        text = field_help(f, hint, _default(f))
        if hint is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=SUPPRESS, help=text)
            continue
        nargs, _ = _flag_shape(hint)
        group.add_argument(flag, dest=dest, nargs=nargs, metavar=_metavar(hint), default=SUPPRESS, help=text)


def flag_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The settings given as :func:`add_setting_flags` flags, read by the settings parser."""
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for key, raw in vars(args).items():
        if not key.startswith(_FLAG_PREFIX) or key[len(_FLAG_PREFIX) :] not in hints:
            continue
        name = key[len(_FLAG_PREFIX) :]
        if isinstance(raw, bool):
            out[name] = raw
        elif isinstance(raw, list):
            values = [parse_value(v) for v in raw]
            _, scalar = _flag_shape(hints[name])
            out[name] = values[0] if scalar and len(values) == 1 else values
        else:
            out[name] = parse_value(raw)
    return out


def settings_epilog(cls: type, intro: str, skip: Sequence[str] = ()) -> str:
    """The keys ``cls`` accepts as ``key=value`` (or in YAML), one line each, from the field metadata."""
    hints = _hints(cls)
    lines = [intro]
    for f in fields(cls):
        if f.init and f.name not in skip:
            lines.append(f"  {f.name}: {field_help(f, hints[f.name], _default(f))}")
    return "\n".join(lines)
