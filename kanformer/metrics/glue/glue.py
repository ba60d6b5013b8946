"""GLUE metrics as an ``evaluate`` metric script: one config name per GLUE task.

Loaded offline from this directory (never from the Hub)::

    import evaluate
    from kanformer.metrics import metric_path

    metric = evaluate.load(metric_path("glue"), "mrpc")
    metric.compute(predictions=[1, 0, 1], references=[1, 1, 1])  # {"accuracy": ..., "f1": ...}

Predictions are class ids (regression scores for ``stsb``), not logits.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

_DESCRIPTION = """\
Scores for the GLUE benchmark tasks: Matthews correlation (cola), Pearson and Spearman
correlation (stsb), accuracy and binary F1 (mrpc, qqp), accuracy (every other task).
"""

_CITATION = """\
@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={International Conference on Learning Representations},
  year={2019}
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids (floats for stsb).
    references: gold class ids (floats for stsb).
Returns:
    cola: {"matthews_correlation"}; stsb: {"pearson", "spearmanr"}; mrpc, qqp: {"accuracy", "f1"};
    sst2, mnli, mnli_matched, mnli_mismatched, qnli, rte, wnli, hans, ax: {"accuracy"}.
"""

CONFIGS = (
    "cola",
    "sst2",
    "mrpc",
    "stsb",
    "qqp",
    "mnli",
    "mnli_matched",
    "mnli_mismatched",
    "qnli",
    "rte",
    "wnli",
    "hans",
    "ax",
)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Glue(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in CONFIGS:
            raise KeyError(f"unknown GLUE metric config {self.config_name!r}; choose one of: {', '.join(CONFIGS)}")
        value = "float64" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(value), "references": datasets.Value(value)}),
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        # Python lists (float64) in, not evaluate's numpy format, which would hand float32 arrays over.
        predictions, references = np.asarray(predictions), np.asarray(references)
        name = self.config_name
        if name == "cola":
            return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}
        if name == "stsb":
            return {
                "pearson": float(pearsonr(predictions, references)[0]),
                "spearmanr": float(spearmanr(predictions, references)[0]),
            }
        accuracy = float(accuracy_score(references, predictions))
        if name in ("mrpc", "qqp"):
            return {"accuracy": accuracy, "f1": float(f1_score(references, predictions))}
        return {"accuracy": accuracy}
