"""A comparison config: which models, FFN variants, tasks and seeds, and how to train and bench.

    name: quickstart
    seeds: [0]
    train: {max_steps: 60, batch_size: 16}       # RunConfig fields, for every run
    bench: {batch_size: 8, seq_len: 128}         # BenchSettings fields
    variants:                                    # name -> FFN spec: none, a preset, a YAML file or a mapping
      original: none
      kan-warm: {form: kan, init: warm}
      kan-fast: {ffn: {form: kan}, train: {kan_lr: 1.0e-3}}   # FFN spec + training overrides of this variant
      original-long: {ffn: none, train: {max_steps: 180}}
      kan-long: {ffn: {form: kan}, train: {max_steps: 180}, baseline: original-long}  # compared with original-long
    experiments:                                 # each expands to models x tasks x variants x seeds
      - models: [minilm]
        tasks: [bbc-news]
        variants: [original, kan-warm]
        train: {lr: 5.0e-5}                      # overrides for this experiment's runs

A variant may also be named directly after a preset (``kan-warm``) or ``original`` without
being declared. :func:`load_compare_config` checks the whole file before anything runs and
reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settings import SettingsError, from_settings, read_yaml, setting, validate

_TOP = ("name", "description", "seeds", "train", "bench", "variants", "experiments", "cluster")
_EXPERIMENT = ("models", "tasks", "variants", "seeds", "train", "bench", "data_dir")


@dataclass
class Experiment:
    """One block of the matrix: every model x task x variant x seed."""

    models: list[str] = setting(help="model names (built-in, local directory or hub id)")
    tasks: list[str] = setting(help="task names or task files")
    variants: list[str] = setting(help="FFN variants: declared under variants, a preset or original")
    seeds: list[int] = setting(help="seeds of every run (default: the top-level seeds)")
    train: dict[str, Any] = setting(help="RunConfig overrides for this block's runs", default_factory=dict)
    bench: dict[str, Any] = setting(help="BenchSettings overrides for this block's runs", default_factory=dict)
    data_dir: str | None = setting(None, "local task files in the real schema (offline)")

    def __post_init__(self) -> None:
        validate(self, "experiment")


@dataclass
class CompareConfig:
    """A validated comparison: ``variants`` maps each name to complete FFN settings (None: original)."""

    name: str
    variants: dict[str, dict[str, Any] | None]
    experiments: list[Experiment]
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    variant_train: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Training overrides of a variant (e.g. its own kan_lr), applied over the experiment's."""
    baselines: dict[str, str] = field(default_factory=dict)
    """The original variant a variant is compared with, where it is not the default one (``original``):
    e.g. a KAN variant trained longer is compared with the original trained as long."""


@dataclass
class RunSpec:
    """One fine-tune of the matrix and where it lives."""

    model: str
    task: str
    variant: str
    seed: int
    ffn: dict[str, Any] | None
    train: dict[str, Any]
    bench: dict[str, Any]
    data_dir: str | None

    @property
    def id(self) -> str:
        return f"{self.model}/{self.task}/{self.variant}/seed{self.seed}"

    @property
    def dirname(self) -> str:
        return "__".join(slug(p) for p in (self.model, self.task, self.variant, f"seed{self.seed}"))

    @property
    def bench_key(self) -> str:
        """Throughput does not depend on the seed: one bench per model x task x variant."""
        return "__".join(slug(p) for p in (self.model, self.task, self.variant))


def slug(text: str) -> str:
    """A file-name-safe form of a model, task or variant name (``glue/sst2`` -> ``glue-sst2``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _as_list(value: Any, what: str, problems: list[str], kind: type = str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values or any(not isinstance(v, kind) or isinstance(v, bool) for v in values):
        problems.append(f"{what} must be a {kind.__name__} or a non-empty list of them, got {value!r}")
        return []
    return values


def _mapping(value: Any, what: str, problems: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{what} must be a mapping of settings, got {type(value).__name__}")
        return {}
    return dict(value)


def _check_run_settings(train: dict[str, Any], where: str, problems: list[str]) -> None:
    from ..train.config import RunConfig

    reserved = sorted({"model", "task", "ffn", "seed", "output_dir", "data_dir", "resume"} & set(train))
    if reserved:
        problems.append(f"{where}: {reserved} are set by the matrix, not in train")
    try:
        from_settings(RunConfig, {k: v for k, v in train.items() if k not in reserved}, what="run")
    except ValueError as err:
        problems.append(f"{where}: {err}")


def _check_bench_settings(bench: dict[str, Any], where: str, problems: list[str]) -> None:
    from ..bench.model import BenchSettings, resolve_device

    try:
        resolve_device(from_settings(BenchSettings, bench, what="bench"))  # cuda on a CPU-only machine: now
    except ValueError as err:
        problems.append(f"{where}: {err}")


def _check_pairing(model: str, task: Any, where: str, problems: list[str]) -> None:
    from ..models import builtin_kind

    kind = builtin_kind(model)
    if kind is not None and kind != task.kind:
        problems.append(f"{where}: model {model!r} takes {kind} input but task {task.name!r} takes {task.kind} input")


def parse_compare_config(data: Mapping[str, Any], default_name: str = "compare") -> CompareConfig:
    """Validate a comparison mapping (a parsed YAML file); ValueError lists every problem at once."""
    from ..models import check_model
    from ..tasks import get_task
    from ..train.config import FFN_PRESETS, ffn_settings

    problems: list[str] = []
    unknown = sorted(set(data) - set(_TOP))
    if unknown:
        problems.append(f"unknown top-level key(s) {unknown}; known: {list(_TOP)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        problems.append(f"name={name!r} must be a plain folder name (letters, digits, . _ -)")
    seeds = _as_list(data.get("seeds", [0]), "seeds", problems, int)
    train = _mapping(data.get("train"), "train", problems)
    bench = _mapping(data.get("bench"), "bench", problems)
    if data.get("cluster") is not None:  # SLURM options for --executor slurm (kanformer.compare.executors)
        from .cluster import check_cluster

        problems += check_cluster(_mapping(data.get("cluster"), "cluster", problems))

    before = len(problems)
    _check_run_settings(train, "train", problems)
    train_ok = len(problems) == before
    before = len(problems)
    _check_bench_settings(bench, "bench", problems)
    bench_ok = len(problems) == before

    variants: dict[str, dict[str, Any] | None] = {}
    declared = _mapping(data.get("variants"), "variants", problems)
    variant_train: dict[str, dict[str, Any]] = {}
    baselines: dict[str, Any] = {}
    variant_train_ok: set[str] = set()  # variants whose own train overrides are valid
    for vname, spec in declared.items():
        vname = str(vname)
        if isinstance(spec, Mapping) and set(spec) and set(spec) <= {"ffn", "train", "baseline"}:
            if "baseline" in spec:
                baselines[vname] = spec["baseline"]
            variant_train[vname] = _mapping(spec.get("train"), f"variant {vname!r} train", problems)
            before = len(problems)
            if variant_train[vname]:
                _check_run_settings(variant_train[vname], f"variant {vname!r} train", problems)
            if len(problems) == before:
                variant_train_ok.add(vname)
            spec = spec.get("ffn")
        try:
            variants[vname] = ffn_settings("none" if spec is None else spec)
        except ValueError as err:
            problems.append(f"variant {vname!r}: {err}")

    def variant(vname: str, where: str) -> bool:
        if vname in variants or vname in declared:
            return True
        if vname in FFN_PRESETS or vname in ("original", "none"):
            variants[vname] = ffn_settings(vname)
            return True
        known = sorted({*declared, *FFN_PRESETS, "original"})
        problems.append(f"{where}: unknown variant {vname!r}; declare it under variants or use one of {known}")
        return False

    experiments: list[Experiment] = []
    raw_experiments = data.get("experiments")
    if not isinstance(raw_experiments, list) or not raw_experiments:
        problems.append("experiments must be a non-empty list of {models, tasks, variants} blocks")
        raw_experiments = []
    checked_models: dict[str, str | None] = {}
    for i, block in enumerate(raw_experiments):
        where = f"experiments[{i}]"
        if not isinstance(block, Mapping):
            problems.append(f"{where} must be a mapping with models, tasks and variants")
            continue
        extra = sorted(set(block) - set(_EXPERIMENT))
        if extra:
            problems.append(f"{where}: unknown key(s) {extra}; known: {list(_EXPERIMENT)}")
        for key in ("models", "tasks", "variants"):
            if key not in block:
                problems.append(f"{where}: {key} is missing")
        models = _as_list(block.get("models", []), f"{where}.models", problems) if "models" in block else []
        task_names = _as_list(block.get("tasks", []), f"{where}.tasks", problems) if "tasks" in block else []
        names = _as_list(block.get("variants", []), f"{where}.variants", problems) if "variants" in block else []
        for m in models:
            if m not in checked_models:
                checked_models[m] = check_model(m)
            if checked_models[m]:
                problems.append(f"{where}: {checked_models[m]}")
        tasks = []
        for t in task_names:
            try:
                tasks.append(get_task(t))
            except ValueError as err:
                problems.append(f"{where}: {err}")
        for m in models:
            if not checked_models.get(m):
                for task in tasks:
                    _check_pairing(m, task, where, problems)
        names = [v for v in names if variant(v, where)]
        own_train = _mapping(block.get("train"), f"{where}.train", problems)
        own_bench = _mapping(block.get("bench"), f"{where}.bench", problems)
        exp_train, exp_bench = {**train, **own_train}, {**bench, **own_bench}
        # A problem of the shared settings is reported once, not once per experiment.
        if own_train:
            _check_run_settings(exp_train if train_ok else own_train, f"{where}.train", problems)
        for v in names:  # a variant's overrides must also fit with this experiment's settings
            if variant_train.get(v) and train_ok and v in variant_train_ok:
                _check_run_settings({**exp_train, **variant_train[v]}, f"{where} variant {v!r}", problems)
        if own_bench:
            _check_bench_settings(exp_bench if bench_ok else own_bench, f"{where}.bench", problems)
        exp_seeds = _as_list(block["seeds"], f"{where}.seeds", problems, int) if "seeds" in block else seeds
        data_dir = block.get("data_dir")
        if data_dir is not None and not Path(str(data_dir)).expanduser().is_dir():
            problems.append(f"{where}: data_dir {data_dir!r} is not a directory")
        experiments.append(Experiment(models, task_names, names, exp_seeds, exp_train, exp_bench, data_dir))
    for vname, base in baselines.items():
        problems += _check_baseline(vname, base, variants, experiments)
    if problems:
        raise SettingsError("comparison config", problems)
    used = {v for e in experiments for v in e.variants}
    return CompareConfig(
        name=name,
        variants={k: v for k, v in variants.items() if k in used},
        experiments=experiments,
        description=str(data.get("description") or "").strip(),
        raw=dict(data),
        variant_train={k: v for k, v in variant_train.items() if k in used and v},
        baselines={k: v for k, v in baselines.items() if k in used},
    )


def _check_baseline(
    vname: str, base: Any, variants: dict[str, dict[str, Any] | None], experiments: list[Experiment]
) -> list[str]:
    """A declared baseline must be an original (ffn: none) variant run wherever ``vname`` runs."""
    originals = sorted(k for k, v in variants.items() if v is None)
    if not isinstance(base, str) or base not in variants or variants[base] is not None:
        return [f"variant {vname!r}: baseline={base!r} must name an original (ffn: none) variant, e.g. {originals}"]
    missing = [i for i, e in enumerate(experiments) if vname in e.variants and base not in e.variants]
    if missing:
        return [f"variant {vname!r}: its baseline {base!r} must be listed in experiments{missing} as well"]
    return []


def load_compare_config(path: str) -> CompareConfig:
    """Read and validate a comparison YAML file (name defaults to the file's stem)."""
    return parse_compare_config(read_yaml(path), default_name=Path(path).stem)


def expand(config: CompareConfig) -> list[RunSpec]:
    """Every run of the matrix, in order: experiment, model, task, variant, seed.

    A report row is one model x task x variant: its runs (seeds) must share their settings, so the
    same triple in two experiments with different training, bench or data settings is refused.
    """
    specs = []
    seen = set()
    rows: dict[tuple[str, str, str], tuple[int, RunSpec]] = {}
    for i, exp in enumerate(config.experiments):
        for model in exp.models:
            for task in exp.tasks:
                for variant in exp.variants:
                    for seed in exp.seeds:
                        train = {**exp.train, **config.variant_train.get(variant, {})}
                        spec = RunSpec(
                            model, task, variant, seed, config.variants[variant], train, exp.bench, exp.data_dir
                        )
                        if spec.dirname in seen:
                            raise ValueError(f"run {spec.id} appears twice in the matrix; list it once")
                        seen.add(spec.dirname)
                        specs.append(spec)
                        first = rows.setdefault((model, task, variant), (i, spec))
                        if first[0] != i:
                            _check_same_row(first, (i, spec))
    return specs


def _check_same_row(a: tuple[int, RunSpec], b: tuple[int, RunSpec]) -> None:
    (i, x), (j, y) = a, b
    diff = [
        f"{what}.{k}: {p.get(k)!r} vs {q.get(k)!r}"
        for what, p, q in (("train", x.train, y.train), ("bench", x.bench, y.bench))
        for k in sorted(set(p) | set(q))
        if p.get(k) != q.get(k)
    ]
    if x.data_dir != y.data_dir:
        diff.append(f"data_dir: {x.data_dir!r} vs {y.data_dir!r}")
    if diff:
        raise ValueError(
            f"{x.model}/{x.task}/{x.variant} is in experiments[{i}] and experiments[{j}] with different settings "
            f"({'; '.join(diff)}): one report row would pool them; declare a second variant name for one of them"
        )


__all__ = ["CompareConfig", "Experiment", "RunSpec", "expand", "load_compare_config", "parse_compare_config", "slug"]
