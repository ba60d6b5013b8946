"""The one settings system: every config dataclass declares help and checks in field metadata, is
validated by kanformer.settings.validate (one line, one format) and parsed by one parser; the CLI's
settings flags and --ffn grammar come from it, and bad input is one line with exit status 2."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from kanformer.bench.settings import BenchSettings
from kanformer.cli import build_parser, main
from kanformer.compare.config import Experiment
from kanformer.paper.config import ContinualConfig, FeynmanConfig, FitConfig, PDEConfig, SpecialConfig, ToyFunction
from kanformer.plugin.config import KANFFNConfig
from kanformer.settings import SettingsError, from_settings, parse_key_values
from kanformer.tabular.config import TabularConfig
from kanformer.train.config import RunConfig, ffn_settings

CONFIGS = [
    KANFFNConfig,
    RunConfig,
    BenchSettings,
    TabularConfig,
    Experiment,
    FitConfig,
    ToyFunction,
    SpecialConfig,
    PDEConfig,
    FeynmanConfig,
    ContinualConfig,
]
TOY = {"function": "x*y", "widths": [2, 1], "grids": [3, 5]}

# (config class, what, bad settings, the field each names)
BAD = [
    (KANFFNConfig, "KAN FFN", {"grid_size": 0}, "grid_size=0 (must be >= 1)"),
    (KANFFNConfig, "KAN FFN", {"form": "x"}, "form='x' (choose one of ['kan', 'grkan'])"),
    (KANFFNConfig, "KAN FFN", {"grid_size": "many"}, "grid_size='many' (an integer)"),
    (RunConfig, "run", {"lr": -1}, "lr=-1.0 (must be > 0)"),
    (RunConfig, "run", {"schedule": "step"}, "schedule='step' (choose one of"),
    (BenchSettings, "bench", {"batch_size": 0}, "batch_size=0 (must be >= 1)"),
    (BenchSettings, "bench", {"device": "tpu"}, "device='tpu' (cpu, cuda or cuda:N)"),
    (TabularConfig, "tabular", {"seeds": 0}, "seeds=0 (must be >= 1)"),
    (TabularConfig, "tabular", {"schedule": "step"}, "schedule='step' (choose one of"),
    (Experiment, "experiment", {"models": ["m"], "tasks": ["t"], "variants": ["v"], "seeds": ["x"]}, "seeds"),
    (FitConfig, "paper fit", {"functions": [TOY], "n_train": 0}, "n_train=0 (must be >= 1)"),
    (FitConfig, "paper fit", {"functions": [TOY], "dtype": "float16"}, "dtype='float16' (choose one of"),
    (FitConfig, "paper fit", {"functions": [{**TOY, "grids": [5, 3]}]}, "functions[0].grids=[5, 3] (need increasing"),
    (
        FitConfig,
        "paper fit",
        {"functions": [{**TOY, "widths": [3, 1]}]},
        "functions[0].widths=[3, 1] (need [2, ..., 1])",
    ),
    (ToyFunction, "paper function", {**TOY, "function": "nope"}, "function='nope' (not known; choose one of"),
    (SpecialConfig, "paper special", {"functions": ["jv", "gamma"]}, "(['gamma'] not known; choose from"),
    (PDEConfig, "paper pde", {"alpha": 0}, "alpha=0.0 (must be > 0)"),
    (PDEConfig, "paper pde", {"kan_widths": [3, 10, 1]}, "kan_widths=[3, 10, 1] (need KAN widths [2, ..., 1]"),
    (SpecialConfig, "paper special", {"functions": ["jv"], "budgets": [0]}, "budgets=[0] (need parameter counts >= 1)"),
]


@pytest.mark.parametrize(("cls", "what", "bad", "expect"), BAD, ids=lambda v: getattr(v, "__name__", None))
def test_bad_value_is_one_line_in_the_common_format(cls, what, bad, expect) -> None:
    with pytest.raises(SettingsError) as info:
        from_settings(cls, bad, what=what)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"invalid {what} settings: ") and expect in message


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ValueError) as info:
        from_settings(BenchSettings, {"batch_size": 0, "dtype": "x", "warmup": "y"}, what="bench")
    assert all(n in str(info.value) for n in ("batch_size=0", "dtype='x'", "warmup='y'"))


@pytest.mark.parametrize(
    ("cls", "what", "bad", "once"),
    [
        (TabularConfig, "tabular", {"grid_size": 0}, "grid_size=0"),
        (TabularConfig, "tabular", {"spline_order": 0}, "spline_order=0"),
        (TabularConfig, "tabular", {"grid_range": [2, 1]}, "grid_range="),
        (TabularConfig, "tabular", {"tasks": ["nope", "nope"], "seeds": 0}, "unknown tabular task 'nope'"),
        (KANFFNConfig, "KAN FFN", {"basis": "nope", "calibrate": "grid"}, "basis"),
    ],
)
def test_each_problem_is_reported_once(cls, what, bad, once) -> None:
    """A field's own check and a cross-check (or the layer's checks) do not both report it."""
    with pytest.raises(SettingsError) as info:
        from_settings(cls, bad, what=what)
    assert str(info.value).count(once) == 1, info.value
    assert len(info.value.problems) == 1 + ("seeds" in bad) + ("tasks" in bad), info.value  # seeds; repeated tasks


def test_the_layer_checks_read_in_the_common_format() -> None:
    with pytest.raises(SettingsError, match=r"spline_order=7 \(an integer in 1\.\.5\)"):
        from_settings(TabularConfig, {"spline_order": 7}, what="tabular")


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_has_help(cls) -> None:
    assert all(f.metadata.get("help") for f in dataclasses.fields(cls)), cls


def test_key_value_parsing_handles_every_field_type() -> None:
    values = parse_key_values(["layers=[0, 1]", "grid_range=[-2,2]", "fused=true", "kan_lr=1e-3", "data_dir=null"])
    cfg = from_settings(KANFFNConfig, {k: values[k] for k in ("layers", "grid_range", "fused")})
    assert cfg.layers == [0, 1] and cfg.grid_range == (-2.0, 2.0) and cfg.fused is True
    run = from_settings(RunConfig, {"kan_lr": values["kan_lr"], "data_dir": values["data_dir"]}, what="run")
    assert run.kan_lr == 1e-3 and run.data_dir is None
    assert from_settings(KANFFNConfig, {"hidden": 48}).hidden == 48  # str | int keeps the int
    assert from_settings(KANFFNConfig, {"layers": "last:2"}).layers == "last:2"
    assert from_settings(TabularConfig, {"tasks": "wine"}, what="tabular").tasks == ["wine"]
    exp = from_settings(Experiment, {"models": ["a"], "tasks": ["b"], "variants": ["c"], "seeds": [0, 1]})
    assert exp.seeds == [0, 1]


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("kan-warm", {"init": "warm"}),
        ("grid_size=7", {"grid_size": 7, "form": "kan"}),
        ("grkan layers=[0, 1]", {"form": "grkan", "layers": [0, 1]}),
        ("{yaml} grid_size=4", {"form": "grkan", "grid_size": 4}),
    ],
)
def test_ffn_spec_grammar(spec: str, expect: dict, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text("form: grkan\n")
    ffn = ffn_settings(spec.format(yaml=tmp_path / "f.yaml"))
    assert ffn is not None and all(ffn[k] == v for k, v in expect.items())
    assert ffn_settings("none") is None


@pytest.mark.parametrize("command", ["inspect", "bench", "finetune"])
def test_ffn_flag_takes_preset_yaml_and_pairs_in_each_command(command: str, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text("form: grkan\n")
    parser = build_parser()
    for spec in ("kan-warm", str(tmp_path / "f.yaml"), "grid_size=3 layers=[0,1]"):
        args = parser.parse_args([command, *(["tiny-bert"] if command != "finetune" else []), "--ffn", spec])
        given = args.ffn[-1] if isinstance(args.ffn, list) else args.ffn
        assert ffn_settings(given) is not None


@pytest.mark.parametrize(
    ("command", "cls", "skip"),
    [("bench", BenchSettings, ()), ("finetune", RunConfig, ("ffn",)), ("tabular", TabularConfig, ())],
)
def test_help_lists_settings_from_metadata(command: str, cls, skip, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(cls):
        if f.name not in skip:
            assert "--" + f.name.replace("_", "-") in out
            assert " ".join(f.metadata["help"].split())[:30] in out


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "tiny-bert", "--batch-size", "0"],
        ["bench", "tiny-bert", "--ffn", "bogus"],
        ["bench", "tiny-bert", "--ffn", "gridsize=3"],
        ["inspect", "tiny-bert", "--ffn", "form=nope"],
        ["finetune", "--lr", "-1"],
        ["tabular", "--seeds", "0"],
    ],
)
def test_bad_input_exits_2_with_one_line(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and err.startswith(f"kanformer {argv[0]}: error:")


def test_help_is_fast_and_imports_no_torch() -> None:
    code = "import sys; from kanformer.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
