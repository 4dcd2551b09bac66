"""The version of the `tuning` library, recorded in every adapter card (`tuning_version`)."""

__version__ = "0.1.0"
