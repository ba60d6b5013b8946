"""The accelerate loop on a tiny real BERT and a learnable synthetic task."""

from __future__ import annotations

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import Dataset
from transformers import BertConfig, BertForSequenceClassification

from kanformer import KANFFNConfig, kanify
from kanformer.train import RunConfig, latest_checkpoint, train


class Parity(Dataset):
    """Label 1 sequences are mostly token 5: learnable by a tiny model in a few dozen steps."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(6, 50, (n, 12), generator=g)
        self.labels = (torch.rand(n, generator=g) < 0.5).long()
        self.ids[self.labels == 1, ::2] = 5

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": self.labels[i]}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def accuracy(preds: torch.Tensor, refs: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((preds.argmax(-1) == refs).float().mean())}


def tiny_bert(kan: bool) -> BertForSequenceClassification:
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    model = BertForSequenceClassification(cfg)
    return kanify(model, KANFFNConfig(init="warm")) if kan else model


def run(
    tmp_path, name: str, kan: bool = True, max_steps_override: int = 30, **overrides
) -> tuple[dict, torch.nn.Module]:
    cfg = RunConfig(
        output_dir=str(tmp_path / name), max_steps=max_steps_override, batch_size=8, lr=3e-3, log_every=5, **overrides
    )
    model = tiny_bert(kan)
    final = train(cfg, model, Parity(256, 0), {"validation": Parity(100, 1)}, collate, accuracy, "accuracy")
    return final, model


def test_run_dir_metrics_and_tensorboard(tmp_path) -> None:
    final, _ = run(tmp_path, "a", eval_every=10)
    run_dir = tmp_path / "a"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [e["step"] for e in metrics["evaluations"]] == [10, 20, 30]
    assert metrics["final"]["validation/samples"] == 100  # every eval example once
    assert final["validation/accuracy"] > 0.9  # the task is learnt
    assert (run_dir / "config.yaml").exists() and (run_dir / "model" / "config.json").exists()
    events = EventAccumulator(str(next((run_dir / "tb").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/grad_norm", "train/samples_per_s", "validation/accuracy"} <= tags
    assert len(events.Scalars("train/loss")) == 6


def test_saved_model_keeps_kan_settings(tmp_path) -> None:
    import kanformer

    run(tmp_path, "b")
    model = kanformer.from_pretrained(str(tmp_path / "b" / "model"))
    assert model.config.kanformer["settings"]["init"] == "warm"


def test_resume_matches_uninterrupted(tmp_path) -> None:
    """Stop after the step-10 checkpoint (a killed run), resume: same final weights."""
    full_final, full = run(tmp_path, "full", save_every=10, keep_last=5)
    with pytest.raises(KeyboardInterrupt):
        cfg = RunConfig(output_dir=str(tmp_path / "cut"), max_steps=30, batch_size=8, lr=3e-3, save_every=10)
        model = tiny_bert(True)

        def stop_after_first_checkpoint(preds, refs):  # never called: we stop via the dataset below
            raise AssertionError

        class Killer(Parity):
            def __getitem__(self, i):
                if latest_checkpoint(tmp_path / "cut") is not None:
                    raise KeyboardInterrupt
                return super().__getitem__(i)

        train(cfg, model, Killer(256, 0), {"validation": Parity(100, 1)}, collate, stop_after_first_checkpoint, "x")
    assert latest_checkpoint(tmp_path / "cut").name == "step_00000010"
    resumed_final, resumed = run(tmp_path, "cut", save_every=10, resume=True)
    assert resumed_final == full_final  # the same metrics, too
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text())["resumed_from_step"] == 10
    for (n, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=n)


def test_param_groups_separate_kan_lr_and_no_decay() -> None:
    from kanformer.train import param_groups

    model = tiny_bert(True)
    groups = param_groups(model, RunConfig(lr=1e-3, kan_lr=1e-2, weight_decay=0.1))
    kan_ids = {id(p) for n, p in model.named_parameters() if "intermediate.dense" in n or "output.dense.base" in n}
    for g in groups:
        ids = {id(p) for p in g["params"]}
        if ids & kan_ids:
            assert g["lr"] == 1e-2
        names = [n for n, p in model.named_parameters() if id(p) in ids]
        if any(n.endswith("bias") or "LayerNorm" in n for n in names):
            assert g["weight_decay"] == 0.0 and all(n.endswith("bias") or "LayerNorm" in n for n in names)


def test_param_groups_give_shared_kan_functions_their_own_lr() -> None:
    """grkan's rational coefficients and denominators train at kan_shared_lr, its linear maps at kan_lr."""
    from kanformer.layers import KANLinear
    from kanformer.train import param_groups

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    model = kanify(BertForSequenceClassification(cfg), KANFFNConfig(form="grkan", init="warm"))
    layers = [m for m in model.modules() if isinstance(m, KANLinear)]
    shared = {id(p) for m in layers for p in m.shared_parameters()}
    kan = {id(p) for m in layers for p in m.parameters()} - shared
    lr_of = {
        id(p): g["lr"]
        for g in param_groups(model, RunConfig(lr=1e-3, kan_lr=1e-2, kan_shared_lr=1e-5))
        for p in g["params"]
    }
    assert shared and kan and len(lr_of) == len(list(model.parameters()))
    assert {lr_of[i] for i in shared} == {1e-5} and {lr_of[i] for i in kan} == {1e-2}
    assert {lr for i, lr in lr_of.items() if i not in shared | kan} == {1e-3}
    default = {id(p): g["lr"] for g in param_groups(model, RunConfig(lr=1e-3, kan_lr=1e-2)) for p in g["params"]}
    assert {default[i] for i in shared} == {1e-2}  # unset: as the other KAN parameters


@pytest.mark.parametrize("form", ["kan", "grkan"])
def test_kan_and_backbone_gradients_are_clipped_separately(form: str) -> None:
    """Large KAN gradients are clipped to the limit without shrinking the backbone's small ones,
    and a grkan's shared rational coefficients do not shrink its linear weights."""
    from accelerate import Accelerator

    from kanformer.layers import KANLinear
    from kanformer.train import clip_gradients, clip_sets

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    model = kanify(BertForSequenceClassification(cfg), KANFFNConfig(form=form, init="warm"))
    layers = [m for m in model.modules() if isinstance(m, KANLinear)]
    shared = {id(p) for m in layers for p in m.shared_parameters()}
    kan = {id(p) for m in layers for p in m.parameters()} - shared
    sets = clip_sets(model)
    expected = [shared, kan] if shared else [kan]
    assert [{id(p) for p in s} for s in sets[:-1]] == expected
    assert not {id(p) for p in sets[-1]} & (shared | kan)
    assert sum(len(s) for s in sets) == len(list(model.parameters()))
    if form == "grkan":  # the rational coefficients and denominators are the shared set
        assert {type(m.basis).__name__ for m in layers} == {"RationalBasis"} and len(shared) == 2 * len(layers)
    torch.manual_seed(1)
    scales = [100.0, 1e-3, 1e-3] if shared else [100.0, 1e-3]
    for s, scale in zip(sets, scales, strict=True):
        for p in s:
            p.grad = torch.randn_like(p) * scale
    small = [p.grad.clone() for s in sets[1:] for p in s]
    before = torch.stack([torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in s])) for s in sets])
    total = clip_gradients(Accelerator(cpu=True), model, sets, 1.0)
    torch.testing.assert_close(total, before.norm())
    big = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in sets[0]]))
    torch.testing.assert_close(big, torch.tensor(1.0), rtol=1e-4, atol=0)
    for p, g in zip([p for s in sets[1:] for p in s], small, strict=True):  # below the limit: untouched
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


def test_keep_last_checkpoints_and_accumulation(tmp_path) -> None:
    """save_every=5, keep_last=2: only the newest two remain; with grad_accum=2 each step eats 2 batches."""
    run(tmp_path, "acc", save_every=5, keep_last=2, grad_accum=2, max_steps_override=20)
    ckpts = sorted(p.name for p in (tmp_path / "acc" / "checkpoints").iterdir())
    assert ckpts == ["step_00000015", "step_00000020"]
    state = json.loads((tmp_path / "acc" / "checkpoints" / "step_00000020" / "kanformer_state.json").read_text())
    assert state == {"step": 20, "micro_batches": 40}


def test_bf16_mixed_precision_on_cpu(tmp_path) -> None:
    final, _ = run(tmp_path, "bf16", mixed_precision="bf16")
    assert 0.0 <= final["validation/accuracy"] <= 1.0
    metrics = json.loads((tmp_path / "bf16" / "metrics.json").read_text())
    assert metrics["final"]["step"] == 30
