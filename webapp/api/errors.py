class BadRequest(Exception):
    """A request the API refuses with 400 and a plain message (and per-field messages when useful)."""

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message, self.fields = message, fields or {}
