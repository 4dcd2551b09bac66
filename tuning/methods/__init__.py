"""The tuning methods: their names (light, no torch: the web app lists them from here), what each
query costs, the gradient estimators, and one module per method; `registry.RUNNERS` says which
function runs which method."""
from .names import LABELS, NO_QUERY_METHODS, SHARPNESS_METHODS, SPARSE_METHODS, Method
from .stages import CURVES, MetricPointDict, Stage

__all__ = ["CURVES", "LABELS", "NO_QUERY_METHODS", "SHARPNESS_METHODS", "SPARSE_METHODS", "Method", "MetricPointDict",
           "Stage"]
