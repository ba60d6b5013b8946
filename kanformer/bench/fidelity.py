"""How much of a pretrained model's function a kanified start keeps, on text it was not fitted on.

    from kanformer.bench.fidelity import embedding_fidelity
    result = embedding_fidelity(model, tokenizer, KANFFNConfig(hidden="match-params", init="distill"),
                                fit_texts=train[:128], eval_texts=held_out[:128])

The measure is the one a sentence-embedding user sees: the cosine similarity between the
mean-pooled last hidden states (real tokens only) of the kanified model and of the original,
per unseen text. kanify gets ``fit_texts`` as its distillation/calibration data; the
original model is deep-copied first, so the caller's model is left as it was.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..plugin import KANFFNConfig, kanify
from ..reporting.tables import table
from .inspect import model_stats


def text_batches(tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int) -> list[dict[str, Tensor]]:
    """Padded, truncated model inputs (input_ids, attention_mask: (B, T)) of ``texts``, in order."""
    return [
        dict(
            tokenizer(
                list(texts[i : i + batch_size]),
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
        )  # fmt: skip
        for i in range(0, len(texts), batch_size)
    ]


@torch.no_grad()
def mean_pooled(model: nn.Module, batches: Sequence[dict[str, Tensor]]) -> Tensor:
    """(N, d) sentence embeddings: the last hidden state averaged over each text's real tokens."""
    out = []
    for batch in batches:
        h = model(**batch, output_hidden_states=True).hidden_states[-1].float()
        mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
        out.append((h * mask).sum(1) / mask.sum(1).clamp_min(1))
    return torch.cat(out)


def embedding_fidelity(
    model: nn.Module,
    tokenizer: Any,
    ffn: KANFFNConfig,
    fit_texts: Sequence[str],
    eval_texts: Sequence[str],
    max_length: int = 128,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Kanify a copy of ``model`` with data from ``fit_texts``; compare embeddings on ``eval_texts``.

    Returns the KAN FFN width, FFN parameters after / before, the per-layer held-out R^2
    that distillation recorded, kanify's seconds, and the mean and minimum cosine similarity
    of the unseen texts' embeddings to the original model's.
    """
    model = model.eval()
    eval_batches = text_batches(tokenizer, eval_texts, max_length, 32)
    reference = mean_pooled(model, eval_batches)
    before = model_stats(model)["ffn_params"]
    student = copy.deepcopy(model)
    start = time.perf_counter()
    kanify(student, ffn, data=text_batches(tokenizer, fit_texts, max_length, batch_size))
    seconds = time.perf_counter() - start
    cos = torch.nn.functional.cosine_similarity(mean_pooled(student.eval(), eval_batches), reference, dim=-1)
    record = student.config.kanformer
    return {
        "ffn": ffn.to_dict(),
        "hidden": record.get("hidden"),
        "ffn_params_ratio": model_stats(student)["ffn_params"] / before,
        "distill_r2": record.get("distill_r2"),
        "kanify_seconds": round(seconds, 1),
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
        "fit_texts": len(fit_texts),
        "eval_texts": len(eval_texts),
        "max_length": max_length,
    }


def fidelity_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown table of :func:`embedding_fidelity` results, one row each (with a ``variant`` name);
    scripts/distill_fidelity.py writes it and README.md quotes it (tests/test_readme.py checks)."""
    return table(
        ["start (every FFN replaced)", "hidden", "FFN params", "held-out R² per layer",
         "mean cos", "min cos", "kanify s"],
        [[r["variant"], str(r["hidden"]), f"{r['ffn_params_ratio']:.3f}×",
          " ".join(f"{v:.2f}" for v in r["distill_r2"]) if r["distill_r2"] else "-",
          f"{r['cos_mean']:.4f}", f"{r['cos_min']:.4f}", f"{r['kanify_seconds']:.0f}"] for r in rows],
    )  # fmt: skip


__all__ = ["embedding_fidelity", "fidelity_table", "mean_pooled", "text_batches"]
