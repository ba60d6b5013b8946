"""kanformer inspect: the numbers (checked against hand counts), the settings parser and the CLI."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kanformer import KANFFNConfig, KANLinear, kanify
from kanformer.bench.inspect import inspect_model, parse_ffn_settings, render_inspect
from kanformer.cli import main
from kanformer.models import TINY, load_model

D, H, LAYERS, TOKENS = TINY["hidden"], TINY["intermediate"], TINY["layers"], 128

# ------------------------------------------------------------------ the CLI as users run it
# Real subprocesses (each pays ~5 s of imports) start together as this module starts, so they run
# while the in-process tests do; the subprocess tests at the end of the module wait for them.

CLI_RUNS = {
    "ok": ["tiny-bert", "--ffn", "{yaml}", "hidden=64", "--json", "{json}", "layers=[1]"],
    "unknown_model": ["tiny-bret"],
    "unknown_key": ["tiny-bert", "--ffn", "{yaml}", "bogus=1"],
}


class CliRuns:
    """The CLI_RUNS subprocesses, started at once; ``runs[name]`` waits for one."""

    def __init__(self, tmp: Path) -> None:
        (tmp / "ffn.yaml").write_text("form: kan\ngrid-size: 3\nhidden: 512  # overridden on the command line\n")
        paths = {"yaml": tmp / "ffn.yaml", "json": tmp / "out.json"}
        self.json_path = paths["json"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        root = Path(__file__).resolve().parents[1]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
        self.procs = {
            name: subprocess.Popen(
                [sys.executable, "-m", "kanformer", "inspect", *(a.format(**paths) for a in args)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for name, args in CLI_RUNS.items()
        }
        self.done: dict[str, subprocess.CompletedProcess] = {}

    def __getitem__(self, name: str) -> subprocess.CompletedProcess:
        if name not in self.done:
            proc = self.procs[name]
            out, err = proc.communicate(timeout=300)
            self.done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return self.done[name]

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


@pytest.fixture(scope="module", autouse=True)
def cli(tmp_path_factory: pytest.TempPathFactory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # share the cores with the subprocesses without thread oversubscription
    runs = CliRuns(tmp_path_factory.mktemp("cli"))
    try:
        yield runs
    finally:
        runs.close()
        torch.set_num_threads(threads)


# ------------------------------------------------------------------ the CLI in process (same main())


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["tiny-vit", "--head", "causal-lm"], "not available for model type 'vit'"),
        (["tiny-gpt2", "--num-labels", "3"], "classification heads only"),
        (["tiny-bert", "layers=[0"], "cannot be read"),
        (["tiny-bert", "oops"], "is not key=value"),
        (["tiny-bert", "grid_size=x", "fused=2"], "grid_size='x' (an integer); fused=2"),
        (["tiny-bert", "layers=[5]"], "out of range"),
        (["tiny-bert", "--json", "/nonexistent-folder/x.json"], "does not exist"),
        (["tiny-bert", "--ffn", "{list_yaml}"], "must hold a mapping"),
        (["tiny-bert", "--ffn", "{bad_yaml}"], "is not valid YAML at line"),
        (["tiny-bert", "--ffn", "{missing_yaml}"], "missing.yaml' does not exist"),
        (["tiny-bert", "form=nope"], "form='nope'"),
    ],
)
def test_cli_errors_in_process(capsys: pytest.CaptureFixture, tmp_path: Path, argv: list[str], needle: str) -> None:
    (tmp_path / "list.yaml").write_text("- form\n- kan\n")
    (tmp_path / "bad.yaml").write_text("form: [kan\n")
    files = {
        "list_yaml": tmp_path / "list.yaml",
        "bad_yaml": tmp_path / "bad.yaml",
        "missing_yaml": tmp_path / "missing.yaml",
    }
    argv = [a.format(**files) for a in argv]
    assert main(["inspect", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_cli_options_may_follow_settings(capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", "tiny-llama", "form=grkan", "--markdown", "layers=last:1"]) == 0
    out = capsys.readouterr().out
    assert "| FFN parameters |" in out and "layers=last:1 (1 of 2 blocks)" in out


# ------------------------------------------------------------------ the numbers


@pytest.fixture(scope="module")
def bert() -> torch.nn.Module:
    return load_model("tiny-bert")


@pytest.fixture(scope="module")
def kan_report(bert: torch.nn.Module) -> dict:
    return inspect_model(bert, KANFFNConfig(form="kan", hidden="keep"))


def test_ffn_params_match_hand_counts(bert: torch.nn.Module, kan_report: dict) -> None:
    before, after = kan_report["before"], kan_report["after"]
    assert before["ffn_params"] == LAYERS * (2 * (D * H) + H + D)
    kan = kanify(copy.deepcopy(bert), KANFFNConfig(form="kan", hidden="keep"))
    kan_params = sum(p.numel() for m in kan.modules() if isinstance(m, KANLinear) for p in m.parameters())
    assert after["ffn_params"] == kan_params
    assert after["params"] == sum(p.numel() for p in kan.parameters())
    assert after["params"] - before["params"] == after["ffn_params"] - before["ffn_params"]
    assert before["params"] == sum(p.numel() for p in bert.parameters())
    assert before["trainable_params"] == before["params"] and after["trainable_params"] == after["params"]
    for row in kan_report["layers"]:
        assert row["kan"] and row["hidden_before"] == row["hidden_after"] == H
        assert row["ffn_params_before"] == 2 * D * H + H + D
        assert row["ratio"] == pytest.approx(row["ffn_params_after"] / row["ffn_params_before"])


def test_flops_and_memory(bert: torch.nn.Module, kan_report: dict) -> None:
    before, after = kan_report["before"], kan_report["after"]
    assert kan_report["input"] == {"kind": "text", "shape": [1, TOKENS], "unit": "token"}
    assert before["ffn_flops"] == LAYERS * 2 * (2 * D * H)  # two matmuls d x h per token, 2 FLOPs per MAC
    # cubic B-splines on 5 intervals: 8 basis functions + the base branch = 9 matmuls' worth
    assert after["ffn_flops"] == pytest.approx(9 * before["ffn_flops"])
    assert after["flops"] > before["flops"] > before["ffn_flops"]
    assert after["flops"] - before["flops"] == pytest.approx(after["ffn_flops"] - before["ffn_flops"])
    mib = sum(t.numel() * t.element_size() for t in [*bert.parameters(), *bert.buffers()]) / 2**20
    assert before["weight_mib"] == pytest.approx(mib)
    assert after["weight_mib"] > before["weight_mib"]


def test_the_model_is_left_unchanged(bert: torch.nn.Module, kan_report: dict) -> None:
    assert type(bert).__name__ == "BertForSequenceClassification"
    assert not getattr(bert.config, "kanformer", None)
    assert not any(isinstance(m, KANLinear) for m in bert.modules())


@pytest.fixture(scope="module")
def minilm() -> torch.nn.Module:
    return load_model("minilm")


def test_match_params_keeps_ffn_params_within_one_percent(minilm: torch.nn.Module) -> None:
    report = inspect_model(minilm, KANFFNConfig(form="kan", hidden="match-params", init="distill"))
    before, after = report["before"], report["after"]
    assert abs(after["ffn_params"] / before["ffn_params"] - 1) < 0.01
    assert report["kanify"]["hidden"] < 1536 and all(
        r["hidden_after"] == report["kanify"]["hidden"] for r in report["layers"]
    )
    assert any("distill" in n for n in report["notes"])  # the structure was built without the data-hungry init


def test_grkan_match_params(minilm: torch.nn.Module) -> None:
    report = inspect_model(minilm, KANFFNConfig(form="grkan", hidden="match-params", layers=[0, 1]))
    for row in report["layers"]:
        assert abs(row["ratio"] - 1) < 0.01
    assert [r["kan"] for r in report["layers"]] == [True, True, False, False, False, False]


def test_selected_layers_and_trainable(bert: torch.nn.Module) -> None:
    report = inspect_model(bert, KANFFNConfig(layers=[1], trainable="ffn"))
    first, second = report["layers"]
    assert not first["kan"] and first["ffn_params_after"] == first["ffn_params_before"] and first["ratio"] == 1
    assert second["kan"] and second["ratio"] > 1
    kan_only = second["ffn_params_after"]
    assert report["after"]["trainable_params"] == kan_only
    assert report["settings"]["trainable"] == "ffn"


def test_vision_flops_are_per_image() -> None:
    report = inspect_model(load_model("tiny-vit"), KANFFNConfig(form="grkan"))
    assert report["input"]["unit"] == "image" and report["input"]["shape"] == [1, 3, 32, 32]
    patches = (32 // 8) ** 2 + 1  # + [CLS]
    assert report["before"]["ffn_flops"] == LAYERS * patches * 2 * (2 * D * H)
    assert "FLOPs per image" in render_inspect(report)


def test_already_kanified_model(bert: torch.nn.Module) -> None:
    kan = kanify(copy.deepcopy(bert), KANFFNConfig(form="grkan"))
    report = inspect_model(kan)
    assert report["before"] is None and report["change"] is None
    assert report["settings"]["form"] == "grkan"
    assert "-" in render_inspect(report)
    with pytest.raises(ValueError, match="already kanified"):
        inspect_model(kan, KANFFNConfig())


def test_render_text_and_markdown(kan_report: dict) -> None:
    text = render_inspect(kan_report, title="tiny-bert")
    assert text.startswith("Model: tiny-bert (BertForSequenceClassification, bert)")
    assert "form=kan hidden=keep (h=256)" in text and f"{kan_report['before']['ffn_params']:,}" in text
    md = render_inspect(kan_report, markdown=True)
    assert "| layer | KAN | FFN params before |" in md and "|---|---:|" in md
    json.dumps(kan_report)  # JSON-able as is


# ------------------------------------------------------------------ settings


def test_parse_settings_file_then_pairs(tmp_path: Path) -> None:
    path = tmp_path / "ffn.yaml"
    path.write_text("form: grkan\ngroups: 4\nhidden: match-params\ngrid-range: [-2, 2]\n")
    cfg = parse_ffn_settings(str(path), ["hidden=keep", "layers=1", "grid_eps=1e-2", "fused=false", "form=kan"])
    assert cfg.form == "kan" and cfg.groups == 4 and cfg.hidden == "keep"
    assert cfg.layers == [1] and cfg.grid_eps == 0.01 and cfg.grid_range == (-2.0, 2.0) and cfg.fused is False
    assert parse_ffn_settings(None, []) is None
    assert parse_ffn_settings(None, ["hidden=96", "layers=every:2"]) == KANFFNConfig(hidden=96, layers="every:2")
    (tmp_path / "empty.yaml").write_text("# nothing set: the defaults\n")
    assert parse_ffn_settings(str(tmp_path / "empty.yaml")) == KANFFNConfig()


def test_parse_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown KAN FFN setting\(s\) \['gridsize'\] \(did you mean 'grid_size'\?\)"):
        parse_ffn_settings(None, ["gridsize=3"])
    with pytest.raises(ValueError, match="does not exist"):
        parse_ffn_settings(str(tmp_path / "nope.yaml"))
    with pytest.raises(ValueError, match=r"grid_range=3 \(a list \[low, high\]\)"):
        parse_ffn_settings(None, ["grid_range=3"])
    with pytest.raises(ValueError, match=r"basis='\[1\]'|basis=\[1\]"):
        parse_ffn_settings(None, ["basis=[1]"])
    with pytest.raises(ValueError, match="invalid KAN FFN settings: form='nope'"):
        parse_ffn_settings(None, ["form=nope"])
    with pytest.raises(ValueError, match="hidden has no value"):
        parse_ffn_settings(None, ["hidden="])


# ------------------------------------------------------------------ the CLI as a subprocess (waits for CLI_RUNS)


def test_cli_prints_the_tables_and_writes_json(cli: CliRuns) -> None:
    out = cli["ok"]
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    for text in ("FFN parameters", "FLOPs per token", "weight memory (MiB)", "FFN params before", "hidden after"):
        assert text in out.stdout
    rows = [line.split() for line in out.stdout.splitlines() if line[:1].isdigit()]
    assert [r[:2] for r in rows] == [["0", "no"], ["1", "yes"]]
    assert rows[1][-2:] == ["256", "64"]  # hidden before/after: the command line beat the YAML file
    data = json.loads(cli.json_path.read_text())
    assert data["model_argument"] == "tiny-bert" and data["command"].startswith("kanformer inspect tiny-bert")
    assert data["settings"]["grid_size"] == 3 and data["settings"]["hidden"] == 64
    assert data["settings"]["layers"] == [1]
    assert data["before"]["ffn_params"] == LAYERS * (2 * D * H + H + D)
    assert data["after"]["flops"] > 0 and data["environment"]["torch"] == torch.__version__
    assert [r["hidden_after"] for r in data["layers"]] == [H, 64]


@pytest.mark.parametrize(
    ("run", "needle"),
    [
        ("unknown_model", "tiny-bret"),
        ("unknown_key", "bogus"),
    ],
)
def test_cli_rejects_bad_input_with_one_line_and_exit_2(cli: CliRuns, run: str, needle: str) -> None:
    out = cli[run]
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kanformer inspect: error: ") and needle in lines[0]
    assert out.stdout == ""


def test_cli_unknown_model_lists_the_builtins(cli: CliRuns) -> None:
    err = cli["unknown_model"].stderr
    assert "offline" in err and "tiny-llama" in err and "minilm" in err
