"""Accuracy as an ``evaluate`` metric script, loaded offline from this directory.

    import evaluate
    from kanformer.metrics import metric_path

    evaluate.load(metric_path("accuracy")).compute(predictions=[0, 1], references=[0, 0])  # {"accuracy": 0.5}

Predictions are class ids, not logits.
"""

from __future__ import annotations

import datasets
import evaluate
from sklearn.metrics import accuracy_score

_DESCRIPTION = "Accuracy: the fraction of predictions equal to their reference (or their weighted share)."

_CITATION = """\
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and others},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids.
    references: gold class ids.
    normalize: when False, return the number of correct predictions instead of the fraction (default True).
    sample_weight: optional weight per example.
Returns:
    {"accuracy": float}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, normalize: bool = True, sample_weight=None) -> dict[str, float]:
        return {
            "accuracy": float(accuracy_score(references, predictions, normalize=normalize, sample_weight=sample_weight))
        }
