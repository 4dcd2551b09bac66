"""Exceptions whose messages are meant to be shown to a factory engineer as they are."""
from __future__ import annotations


class TuningError(Exception):
    """Base class of every error `tuning` raises on purpose."""


class ConfigError(TuningError, ValueError):
    """A tuning setting is unknown, of the wrong type, out of range or does not fit with another one.
    `field` names the setting to point at (None when the problem is not one setting's)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


class BackboneError(TuningError):
    """A backbone could not be found, downloaded or loaded."""


class DataError(TuningError):
    """An image folder cannot be used for tuning (too few images, unreadable files...)."""


class AdapterError(TuningError):
    """An adapter file is missing, damaged, of an unknown version or meant for another backbone."""


class CheckpointMismatch(TuningError, ValueError):
    """A tuner checkpoint belongs to another run (other settings or other backbone weights): resuming
    from it would mix two runs, so the run must start without it."""


class BudgetExceeded(TuningError):
    """Raised if a loop asks for more queries than the budget allows (a programming error)."""
