"""One exception for every refusal of the RTI / SEVP web side; pages show it next to the field, the JSON
APIs answer ``{"error", "field"?, "missing"?, "invalid"?}`` with its HTTP status."""

from __future__ import annotations


class RtiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        missing: list[str] | None = None,
        invalid: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.missing = missing or []
        self.invalid = invalid or []

    def as_json(self) -> dict:
        out: dict = {"error": self.message}
        if self.field:
            out["field"] = self.field
        if self.missing:
            out["missing"] = self.missing
        if self.invalid:
            out["invalid"] = self.invalid
        return out
