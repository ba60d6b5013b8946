"""embedding_fidelity: the cosine of unseen texts' embeddings, kanified vs original."""

from __future__ import annotations

import pytest

from kanformer.bench.fidelity import embedding_fidelity
from kanformer.layers import KANLinear
from kanformer.models import load_model, load_processor
from kanformer.plugin import KANFFNConfig

WORDS = "the market rose as players scored late goals while ministers debated new phone chips and film awards".split()
TEXTS = [" ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(6 + i % 9)) for i in range(40)]


@pytest.fixture(scope="module")
def bert():
    model = load_model("tiny-bert", head="base")
    return model, load_processor("tiny-bert", model)


def test_a_function_preserving_start_keeps_the_embeddings_and_the_caller_model(bert) -> None:
    model, tok = bert
    r = embedding_fidelity(model, tok, KANFFNConfig(init="warm"), TEXTS[:16], TEXTS[16:], max_length=16)
    assert r["cos_mean"] > 0.99999 and r["cos_min"] > 0.9999
    assert r["hidden"] == 256 and r["eval_texts"] == 24
    assert not any(isinstance(m, KANLinear) for m in model.modules())  # the copy was kanified


def test_a_scratch_start_is_measured_as_far_and_distillation_as_near(bert) -> None:
    model, tok = bert
    narrow = {"hidden": "match-params", "grid_size": 1, "spline_order": 1}
    scratch = embedding_fidelity(model, tok, KANFFNConfig(**narrow), TEXTS[:16], TEXTS[16:], max_length=16)
    cfg = KANFFNConfig(**narrow, init="distill", distill_rows=256, distill_steps=20)
    distilled = embedding_fidelity(model, tok, cfg, TEXTS[:16], TEXTS[16:], max_length=16)
    assert abs(distilled["ffn_params_ratio"] - 1) <= 0.01 and distilled["hidden"] < 256
    assert len(distilled["distill_r2"]) == 2 and scratch["distill_r2"] is None
    # random tiny BERT: the residual stream dominates, so even a scratch FFN keeps cos ~0.998
    assert 1 - distilled["cos_mean"] < (1 - scratch["cos_mean"]) / 10
