"""The mock's clock: SEVIS "now" as an offset from real time, shared by every worker through the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# [i] SEVIS runs on US Eastern time: a raw beta reply carried -04:00 in May (PROTOCOL §3a). The zone database
# comes from the system or, where it has none, from the tzdata package (a dependency).
SEVIS_ZONE = ZoneInfo("America/New_York")


def real_now() -> datetime:
    return datetime.now(UTC)


class MockClock:
    """Now = real now + offset. The offset lives in the store so that all processes agree."""

    def __init__(self, store, cache=None) -> None:
        self._store = store
        self._cache = cache  # a mockserver.cache.RowCache: the offset read once per generation, not per call

    def offset(self) -> timedelta:
        source = self._cache.setting if self._cache is not None else self._store.get_setting
        return timedelta(seconds=float(source("clock_offset_seconds", "0")))

    def now(self) -> datetime:
        return real_now() + self.offset()

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self._store.set_setting("clock_offset_seconds", repr((when - real_now()).total_seconds()))

    def advance(self, delta: timedelta) -> None:
        """Move the clock on; concurrent advances all count (one read-and-write transaction)."""
        self._store.update_setting("clock_offset_seconds", lambda old: repr(float(old or 0) + delta.total_seconds()))


def parse_iso(value: str) -> datetime:
    """ISO-8601 date or date-time; a date means midnight UTC, a naive time means UTC."""
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def sevis_timestamp(when: datetime) -> str:
    """xs:dateTime as SEVIS writes it (PROTOCOL §3a): America/New_York local time with milliseconds and the
    UTC offset of that moment (daylight saving followed), e.g. ``2019-05-21T11:55:36.234-04:00``. A naive
    ``when`` is UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(SEVIS_ZONE).isoformat(timespec="milliseconds")
