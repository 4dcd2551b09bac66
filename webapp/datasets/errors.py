"""The one exception of dataset ingestion: a reason, in plain words, why an upload was refused."""


class UploadRejected(Exception):
    """Raised with a message written for the engineer who uploaded the file; shown as is.
    `skipped` carries the files already kept out, so the report can still list them."""

    def __init__(self, message: str, *, skipped: list[dict] | None = None):
        super().__init__(message)
        self.skipped = skipped or []

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else "The upload was refused."


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
