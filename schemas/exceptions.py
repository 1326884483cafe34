"""Errors of the ``schemas`` package."""

from __future__ import annotations

from pipeline.errors import PipelineError


class InvalidEvent(PipelineError):
    """An event payload does not satisfy contract v1 (DESIGN.md section 4).

    Attributes:
        reason: One precise sentence naming the field and what is wrong with it, e.g.
            ``"lat: expected a finite number between -90 and 90"``. It never contains the
            value of an identifier, an ip or a coordinate, so it can be logged and stored in
            the dead-letter topic as is.
        field: Dotted path of the offending field (``"lat"``, ``"app.platform"``), or ``None``
            when the payload as a whole is wrong (not JSON, too large, not an object).
    """

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field

    def __reduce__(self) -> tuple[type[InvalidEvent], tuple[str, str | None]]:
        # Keep ``field`` across pickling (process pools, faust serialisation).
        return (type(self), (self.reason, self.field))
