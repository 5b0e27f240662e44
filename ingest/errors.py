"""The error every ingest stage raises for a source it cannot use: SourceError."""

from __future__ import annotations


class SourceError(Exception):
    """A page, file or site that cannot be ingested, with a reason fit to show the user."""

    def __init__(self, source: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.status = status  # the HTTP status when a server refused it (404, 500, ...)

    @property
    def gone(self) -> bool:
        """True when the server says the page no longer exists (404 Not Found, 410 Gone)."""
        return self.status in (404, 410)
