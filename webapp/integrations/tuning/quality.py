"""The tuner's quality rules (tuning/quality.py: balanced accuracy, intervals, "better than zero-shot",
the recommendation), for the reports. numpy comes with them: imported when first used."""
from __future__ import annotations


def quality_rules():
    from tuning import quality

    return quality
