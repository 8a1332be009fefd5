"""Paging for every list the mock serves (control API, RTI pages and API, the outbox): ``?limit=N&offset=M``.

A page is read with one more row than asked for, so the reply can say whether another page follows
(``next_offset``) without counting the whole table; with the indexes on each list's order the cost of a page does
not grow with the rows stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select


class PagingError(ValueError):
    """A limit or offset that is not a whole number in range; the message says what to send."""


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int = 0

    @classmethod
    def from_args(cls, args, *, default: int, maximum: int) -> "Page":
        limit = _whole(args.get("limit"), "limit", default)
        offset = _whole(args.get("offset"), "offset", 0)
        if not 1 <= limit <= maximum:
            raise PagingError(f"limit must be a whole number from 1 to {maximum}, not {args.get('limit')!r}")
        if offset < 0:
            raise PagingError(f"offset must be a whole number, 0 or more, not {args.get('offset')!r}")
        return cls(limit, offset)

    def apply(self, query: Select) -> Select:
        """The query cut to this page, plus one row that tells whether another page follows."""
        return query.limit(self.limit + 1).offset(self.offset)

    def cut(self, rows: list) -> tuple[list, dict]:
        """The rows of the page (from a query made with `apply`) and the paging facts for the reply."""
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        return rows, {
            "limit": self.limit,
            "offset": self.offset,
            "returned": len(rows),
            "next_offset": self.offset + self.limit if more else None,
        }


def _whole(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise PagingError(f"{name} must be a whole number, not {value!r}") from None
