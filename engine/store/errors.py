"""Errors the store raises for bad input: each names the record and the field at fault."""

from __future__ import annotations


class ValidationError(ValueError):
    """A value was refused. `field` names the field, `record` (when known) the record."""

    def __init__(self, field: str, message: str, record: str | None = None):
        self.field = field
        self.message = message
        self.record = record
        super().__init__(self._text())

    def __reduce__(self):
        # Crosses a process boundary intact (the engine's database writer is a process).
        return (type(self), (self.field, self.message, self.record))

    def _text(self) -> str:
        where = f"{self.record}: " if self.record else ""
        return f"{where}{self.field}: {self.message}"

    def for_record(self, record: str) -> "ValidationError":
        """The same error, now naming the record it came from."""
        return ValidationError(self.field, self.message, record=record)

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message, "record": self.record}
