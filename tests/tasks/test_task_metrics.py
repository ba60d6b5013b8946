"""Our evaluate metric scripts against scikit-learn and scipy, on random predictions."""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from kanformer.metrics import METRICS, METRICS_DIR, load_metric, metric_path
from kanformer.tasks import TASKS, compute_metrics, get_task

REPO = Path(__file__).resolve().parents[2]


def _random(task, n=200, seed=0):
    rng = np.random.default_rng(seed)
    if task.is_regression:
        refs = rng.uniform(0, 5, n)
        return refs + rng.normal(0, 1.5, n), refs
    refs = rng.integers(0, task.num_labels, n)
    preds = np.where(rng.random(n) < 0.6, refs, rng.integers(0, task.num_labels, n))
    return preds, refs


def _expected(task, preds, refs):
    if task.metric_config == "cola":
        return {"matthews_correlation": matthews_corrcoef(refs, preds)}
    if task.metric_config == "stsb":
        return {"pearson": pearsonr(preds, refs)[0], "spearmanr": spearmanr(preds, refs)[0]}
    if task.metric_config in ("mrpc", "qqp"):
        return {"accuracy": accuracy_score(refs, preds), "f1": f1_score(refs, preds)}
    return {"accuracy": accuracy_score(refs, preds)}


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_metric_matches_sklearn_and_scipy(name):
    task = get_task(name)
    preds, refs = _random(task)
    expected = _expected(task, preds, refs)
    result = compute_metrics(task, preds, refs)
    assert set(result) == set(expected) | {"main"}
    for key, value in expected.items():
        assert result[key] == pytest.approx(float(value), rel=1e-12, abs=1e-12), key
    assert result["main"] == result[task.main_metric]
    assert all(type(v) is float for v in result.values())


def test_logits_are_argmaxed_and_regression_outputs_squeezed():
    rng = np.random.default_rng(1)
    logits, refs = rng.normal(size=(50, 3)), rng.integers(0, 3, 50)
    by_logits = compute_metrics("glue/mnli", torch.tensor(logits, dtype=torch.bfloat16).float(), torch.tensor(refs))
    assert by_logits["accuracy"] == pytest.approx(accuracy_score(refs, logits.argmax(-1)))
    scores, targets = rng.normal(size=(40, 1)), rng.uniform(0, 5, 40)
    result = compute_metrics("glue/stsb", torch.tensor(scores, dtype=torch.float32), targets)
    assert result["pearson"] == pytest.approx(pearsonr(scores[:, 0].astype(np.float32), targets)[0], rel=1e-6)
    with pytest.raises(ValueError, match="3 predictions for 4 references"):
        compute_metrics("glue/sst2", [0, 1, 1], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="logits"):
        compute_metrics("glue/sst2", np.zeros((2, 2, 2)), [0, 1])


def test_glue_metric_configs_load_from_the_local_path():
    for config in ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte"):
        metric = evaluate.load(metric_path("glue"), config)
        assert metric.config_name == config
    with pytest.raises(KeyError, match="unknown GLUE metric config"):
        evaluate.load(metric_path("glue"), "squad")
    accuracy = evaluate.load(metric_path("accuracy"))
    result = accuracy.compute(predictions=[0, 1, 2, 2], references=[0, 1, 1, 2], sample_weight=[1, 1, 2, 0])
    assert result["accuracy"] == pytest.approx(accuracy_score([0, 1, 1, 2], [0, 1, 2, 2], sample_weight=[1, 1, 2, 0]))
    # Incremental use, as an evaluation loop would: add_batch, then compute.
    metric = load_metric("glue", "mrpc")
    metric.add_batch(predictions=[1, 0], references=[1, 1])
    metric.add_batch(predictions=[1], references=[0])
    assert metric.compute() == pytest.approx({"accuracy": 1 / 3, "f1": f1_score([1, 1, 0], [1, 0, 1])})
    with pytest.raises(ValueError, match="unknown metric 'bleu'"):
        metric_path("bleu")


def test_metric_scripts_ship_as_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 only (the project supports 3.10)
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["kanformer.metrics"]
    shipped = {p.relative_to(METRICS_DIR) for pattern in patterns for p in METRICS_DIR.glob(pattern)}
    for name in METRICS:
        assert Path(name, f"{name}.py") in shipped
        assert Path(metric_path(name), f"{name}.py").is_file()


def test_every_task_names_a_metric_key_it_returns():
    for task in TASKS.values():
        assert task.metric in METRICS
        if task.is_regression:
            assert task.num_labels == 1 and not task.label_names
        else:
            assert task.num_labels == len(task.label_names) >= 2
            assert task.id2label[task.num_labels - 1] == task.label_names[-1]
            assert task.label2id[task.label_names[0]] == 0
        assert task.kind in ("text", "image") and task.splits[0] == task.train_split


def test_get_task_rejects_unknown_names_listing_known_ones():
    with pytest.raises(ValueError) as error:
        get_task("glue/mrcp")
    message = str(error.value)
    assert "unknown task 'glue/mrcp'" in message and "\n" not in message
    for name in ("glue/mrpc", "glue/mnli", "cifar10", "cifar100", "fashion-mnist", "digits", "bbc-news"):
        assert name in message
    assert get_task(get_task("digits")) is get_task("digits")
