"""kanformer bench: whole-model numbers agree with inspect, training is a real AdamW step on a copy, the CLI."""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import pytest
import torch

from kanformer import KANFFNConfig, kanify
from kanformer.bench.inspect import inspect_model
from kanformer.bench.measure import time_fn, time_fns
from kanformer.bench.model import BenchSettings, bench_model, bench_models, bench_variants, render_bench
from kanformer.cli import main
from kanformer.models import load_model

SEQ = 16
FAST = BenchSettings(batch_size=2, seq_len=SEQ, warmup=1, repeats=2)


def _positive(v: float) -> bool:
    return isinstance(v, float) and math.isfinite(v) and v > 0


@pytest.mark.parametrize(
    ("name", "objective", "vision"),
    [("tiny-bert", "classification", False), ("tiny-gpt2", "causal-lm", False), ("tiny-vit", "classification", True)],
)
def test_numbers_are_positive_and_consistent(
    name: str, objective: str, vision: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model(name)
    calls: list[dict] = []
    real_forward = type(model).forward

    def recording_forward(self: torch.nn.Module, *args: object, **kwargs: object) -> object:
        calls.append({"training": self.training, **kwargs})
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", recording_forward)
    r = bench_model(model, FAST)
    assert r["objective"] == objective
    train_calls = [c for c in calls if c["training"]]
    assert train_calls and all(c.get("labels") is not None for c in train_calls)
    assert not any("labels" in c for c in calls if not c["training"])  # inference: no labels
    labels = train_calls[0]["labels"]
    if objective == "causal-lm":
        assert torch.equal(labels, train_calls[0]["input_ids"])
    else:
        assert labels.shape == (2,) and labels.dtype == torch.long and 0 <= labels.min() <= labels.max() < 2
    assert r["params"] > r["ffn_params"] > 0 and r["trainable_params"] == r["params"]
    assert _positive(r["flops_per_sample"])
    train, infer = r["train"], r["inference"]
    # not step_ms_p05: time_fn's percentiles extrapolate below the fastest of a few repeats (may be < 0)
    for v in (train["step_ms"], train["step_ms_p95"], train["samples_per_s"]):
        assert _positive(v)
    for v in (infer["latency_ms_p50"], infer["latency_ms_p95"], infer["samples_per_s"]):
        assert _positive(v)
    assert train["step_ms_p05"] <= train["step_ms"] <= train["step_ms_p95"]
    assert infer["latency_ms_p50"] <= infer["latency_ms_p95"]
    assert train["samples_per_s"] == pytest.approx(2 / train["step_ms"] * 1e3)
    for mib in (r["peak_memory_mib"], r["inference_peak_memory_mib"]):
        assert mib is None or (math.isfinite(mib) and mib >= 0)
    if vision:
        assert r["unit"] == "image" and r["seq_len"] is None and r["flops_per_token"] is None
        assert r["input_shape"] == [2, 3, 32, 32]
        assert train["tokens_per_s"] is None and infer["tokens_per_s"] is None
    else:
        assert r["unit"] == "token" and r["seq_len"] == SEQ and r["input_shape"] == [2, SEQ]
        assert train["tokens_per_s"] == pytest.approx(train["samples_per_s"] * SEQ)
        assert infer["tokens_per_s"] == pytest.approx(infer["samples_per_s"] * SEQ)
    json.dumps(r)  # JSON-able


def test_counts_and_flops_equal_inspect() -> None:
    bert = load_model("tiny-bert")
    before = inspect_model(bert, KANFFNConfig(), seq_len=SEQ)["before"]
    kan = kanify(copy.deepcopy(bert), KANFFNConfig(trainable="ffn"))
    after = inspect_model(kan, seq_len=SEQ)["after"]
    settings = BenchSettings(batch_size=2, seq_len=SEQ, warmup=0, repeats=1, train=False)
    for model, expected in ((bert, before), (kan, after)):
        r = bench_model(model, settings)
        for key in ("params", "ffn_params", "trainable_params"):
            assert r[key] == expected[key], key
        assert r["flops_per_token"] == expected["flops"]
        assert r["flops_per_sample"] == pytest.approx(expected["flops"] * SEQ)
    assert after["trainable_params"] < after["params"]  # trainable=ffn freezes the rest: a real difference


def test_training_is_a_full_adamw_step_on_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_model("tiny-gpt2")
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    steps: list[tuple[int, bool]] = []
    real_step = torch.optim.AdamW.step

    def counting_step(self: torch.optim.AdamW, *args: object, **kwargs: object) -> object:
        grads = [p.grad for g in self.param_groups for p in g["params"]]
        steps.append((len(grads), all(g is not None and torch.isfinite(g).all() for g in grads)))
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", counting_step)
    r = bench_model(model, BenchSettings(batch_size=2, seq_len=SEQ, warmup=2, repeats=3, inference=False))
    assert r["inference"] is None and r["train"] is not None
    # warm-up + timed steps + the one peak-memory step; every parameter has a gradient at each step
    n_params = sum(1 for p in model.parameters() if p.requires_grad)
    assert steps == [(n_params, True)] * (2 + 3 + 1)
    assert not model.training  # load_model returns eval mode; bench must not flip it
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), k


def test_time_fns_calls_round_by_round() -> None:
    calls: list[str] = []
    timings = time_fns([lambda: calls.append("a"), lambda: calls.append("b")], torch.device("cpu"), warmup=2, repeats=3)
    # first calls, one more warm-up round, then the three timed rounds
    assert calls == ["a", "b"] * (1 + 1 + 3) and [t.repeats for t in timings] == [3, 3]


class _DriftingMachine:
    """Two identical 2 ms jobs on a machine that becomes 4x slower halfway through the measurements."""

    def __init__(self, slow_after: int) -> None:
        self.calls, self.slow_after = 0, slow_after

    def job(self) -> None:
        self.calls += 1
        time.sleep(0.008 if self.calls > self.slow_after else 0.002)


def test_interleaved_timing_keeps_ratios_under_drift() -> None:
    """What interleaving buys: back to back, the second job meets the slow spell alone and looks 4x slower."""
    cpu = torch.device("cpu")
    machine = _DriftingMachine(slow_after=8)
    a, b = time_fn(machine.job, cpu, warmup=1, repeats=7), time_fn(machine.job, cpu, warmup=1, repeats=7)
    assert b.median_ms / a.median_ms > 2.5
    machine = _DriftingMachine(slow_after=8)
    a, b = time_fns([machine.job, machine.job], cpu, warmup=1, repeats=7)
    assert b.median_ms / a.median_ms == pytest.approx(1.0, rel=0.35)


def test_bench_models_is_bench_model_of_each() -> None:
    """Benched together, each model gets its own counts, inputs and objective; none is modified."""
    gpt2, vit = load_model("tiny-gpt2"), load_model("tiny-vit")
    kan = kanify(copy.deepcopy(gpt2), KANFFNConfig(grid_size=3))
    weights = {k: v.clone() for k, v in gpt2.state_dict().items()}
    together = bench_models([gpt2, kan, vit], FAST)
    for model, result in zip([gpt2, kan, vit], together, strict=True):
        alone = bench_model(model, FAST)
        for key in ("params", "ffn_params", "flops_per_sample", "objective", "input_shape", "seq_len", "unit"):
            assert result[key] == alone[key], key
        assert _positive(result["train"]["samples_per_s"]) and _positive(result["inference"]["samples_per_s"])
    assert together[0]["params"] < together[1]["params"] and together[2]["seq_len"] is None
    assert together[2]["train"]["tokens_per_s"] is None and _positive(together[0]["train"]["tokens_per_s"])
    for k, v in gpt2.state_dict().items():
        assert torch.equal(v, weights[k]), k


def test_model_without_a_head_trains_on_its_output() -> None:
    r = bench_model(load_model("tiny-bert", head="base"), FAST)
    assert r["objective"] == "output-mean" and _positive(r["train"]["samples_per_s"])


def test_bench_variants_ratios_and_table() -> None:
    results = bench_variants("tiny-bert", {"original": None, "kan": "kan"}, FAST, pairs={"grid_size": 3})
    assert [r["variant"] for r in results] == ["original", "kan"]
    orig, kan = results
    assert orig["ffn"] is None and kan["ffn"]["form"] == "kan" and kan["ffn"]["grid_size"] == 3
    assert orig["model"] == kan["model"] == "tiny-bert" and orig["task"] is None
    assert orig["ratios"]["params"] == 1.0 and orig["ratios"]["train_samples_per_s"] == 1.0
    assert kan["params"] > orig["params"]
    assert kan["ratios"]["params"] == pytest.approx(kan["params"] / orig["params"])
    assert kan["ratios"]["inference_samples_per_s"] == pytest.approx(
        kan["inference"]["samples_per_s"] / orig["inference"]["samples_per_s"]
    )
    # grid_size=3 applied: (1 + G + K) = 7 weights per edge instead of 9 with the defaults
    d, h, layers = 64, 256, 2
    assert kan["ffn_params"] == layers * (7 * 2 * d * h + h + d)
    table = render_bench(results)
    assert "original" in table and "x1.00" in table and "batch 2x16" in table and f"{kan['params']:,}" in table
    assert "compile s" in table and all(r[part]["compile_s"] >= 0 for r in results for part in ("train", "inference"))
    assert "| kan |" in render_bench(results, markdown=True)


def test_bench_variants_takes_head_and_labels_from_the_task() -> None:
    settings = BenchSettings(batch_size=2, seq_len=SEQ, warmup=0, repeats=1, inference=False)
    (r,) = bench_variants("tiny-bert", {"original": "none"}, settings, task="glue/stsb")
    assert r["task"] == "glue/stsb" and r["objective"] == "regression" and r["ratios"]["params"] == 1.0


def test_settings_list_every_problem() -> None:
    with pytest.raises(ValueError) as err:
        BenchSettings(batch_size=0, seq_len=-1, warmup=-1, repeats=0, dtype="fp8", device="tpu")
    message = str(err.value)
    assert len(message.splitlines()) == 1
    for name in ("batch_size=0", "seq_len=-1", "warmup=-1", "repeats=0", "dtype='fp8'", "device='tpu'"):
        assert name in message
    with pytest.raises(ValueError, match="nothing to measure"):
        BenchSettings(train=False, inference=False)
    BenchSettings(device="cuda:1", warmup=0)  # valid settings, whatever the machine


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no CUDA device is visible; use device=cpu"):
        bench_model(load_model("tiny-bert"), BenchSettings(device="cuda"))


def test_cli_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.json"
    argv = ["bench", "tiny-bert", "--batch-size", "2", "--seq-len", "16", "--repeats", "2", "--warmup", "1"]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "none" in printed and "kan" in printed and f"wrote {out}" in printed
    data = json.loads(out.read_text())
    assert set(data) == {"command", "environment", "settings", "results"}
    assert [r["variant"] for r in data["results"]] == ["none", "kan"]
    assert data["settings"]["batch_size"] == 2 and data["settings"]["seq_len"] == 16
    assert data["results"][1]["ratios"]["params"] > 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["tiny-bert", "--ffn", "none", "--ffn", "kann"], "ffn='kann' is not none, a preset"),
        (["./no-such-model"], "does not exist"),
        (["tiny-bert", "--batch-size", "0", "--dtype", "fp16", "--repeats", "0"], "batch_size=0 (must be >= 1); "),
        (["tiny-bert", "--task", "glue/nope"], "unknown task 'glue/nope'"),
        (["tiny-bert", "--ffn", "kan", "grid_size=x"], "grid_size='x' (an integer)"),
    ],
)
def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture, argv: list[str], needle: str) -> None:
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("kanformer bench: error:") and needle in err, err
