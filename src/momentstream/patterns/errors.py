"""The one exception a bad moment definition raises."""

from __future__ import annotations

__all__ = ["PatternError"]


class PatternError(ValueError):
    """A moment definition is invalid; names the file, the moment and the field.

    Raised when moments are loaded or built, never when the first event arrives.

    Examples
    --------
    >>> str(PatternError("bad unit", source="m.yaml", moment="churn", field="pattern[1].within"))
    "m.yaml: moment 'churn': field 'pattern[1].within': bad unit"
    """

    subject = "moment"
    """What ``moment`` names in the message (an objectives file's errors name an objective)."""

    def __init__(self, message: str, *, source: str = "", moment: str = "", field: str = "") -> None:
        self.message = message
        self.source = source
        self.moment = moment
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.moment:
            parts.append(f"{self.subject} {self.moment!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        parts.append(self.message)
        return ": ".join(parts)

    def located(self, *, source: str = "", moment: str = "", field_prefix: str = "") -> PatternError:
        """A copy with more location filled in, as the error travels up the loader."""
        field = f"{field_prefix}.{self.field}" if field_prefix and self.field else field_prefix or self.field
        return type(self)(
            self.message,
            source=self.source or source,
            moment=self.moment or moment,
            field=field,
        )
