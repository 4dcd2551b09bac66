"""Exceptions whose messages are meant to be shown to a factory engineer as they are."""


class TuningError(Exception):
    """Base class of every error `tuning` raises on purpose."""


class BackboneError(TuningError):
    """A backbone could not be found, downloaded or loaded."""


class DataError(TuningError):
    """An image folder cannot be used for tuning (too few images, unreadable files...)."""


class AdapterError(TuningError):
    """An adapter file is missing, damaged, of an unknown version or meant for another backbone."""


class BudgetExceeded(TuningError):
    """Raised if a loop asks for more queries than the budget allows (a programming error)."""
