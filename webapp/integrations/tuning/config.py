"""The tuner's settings, as the launch form, the API and the estimates read them (tuning/config.py)."""
from __future__ import annotations

import dataclasses

from tuning.config import TuneConfig, allowed_range, minimum_budget, queries_to_spend, sensitivity_groups

__all__ = ["allowed_range", "default_shots", "minimum_budget", "queries_to_spend", "sensitivity_groups",
           "tune_config", "tune_fields"]


def tune_config(values: dict) -> TuneConfig:
    """A checked TuneConfig; tuning.ConfigError (its `field` names the setting) when a value is wrong."""
    return TuneConfig.from_dict(values)


def tune_fields() -> list[dataclasses.Field]:
    """Every setting with its default, help text, choices and bounds (the form's advanced settings)."""
    return list(dataclasses.fields(TuneConfig))


def default_shots() -> int:
    return TuneConfig().shots
