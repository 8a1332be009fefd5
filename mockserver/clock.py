"""The mock's clock: SEVIS "now" as an offset from real time, shared by every worker through the database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# [i] SEVIS runs on US Eastern time: a raw beta reply carried -04:00 in May (PROTOCOL §3a). The zone database
# comes from the system or, where it has none, from the tzdata package (a dependency).
SEVIS_ZONE = ZoneInfo("America/New_York")

# [i] The years the mock clock may show. SEVIS dates of birth start in the 1900s and programs end within
# decades; outside these years date arithmetic (a program's end, 45 days of inactivity, a time zone)
# would overflow Python's datetime, so such a clock is refused instead.
FIRST_YEAR, LAST_YEAR = 1900, 2200


class ClockOutOfRange(ValueError):
    pass


def check_range(when: datetime) -> datetime:
    """``when`` if its year is between FIRST_YEAR and LAST_YEAR, else ClockOutOfRange saying so."""
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise ClockOutOfRange(
            f"{when.isoformat(timespec='seconds')} is outside the years the mock clock can show "
            f"({FIRST_YEAR}-{LAST_YEAR}); choose a time in that range"
        )
    return when


def real_now() -> datetime:
    return datetime.now(UTC)


class MockClock:
    """Now = real now + offset. The offset lives in the store so that all processes agree."""

    def __init__(self, store, cache=None) -> None:
        self._store = store
        self._cache = (
            cache  # a sevis_mock.server.store.cache.RowCache: the offset read once per generation, not per call
        )

    def offset(self) -> timedelta:
        source = self._cache.setting if self._cache is not None else self._store.get_setting
        return timedelta(seconds=float(source("clock_offset_seconds", "0")))

    def now(self) -> datetime:
        return real_now() + self.offset()

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        check_range(when)
        self._store.set_setting("clock_offset_seconds", repr((when - real_now()).total_seconds()))

    def advance(self, delta: timedelta) -> None:
        """Move the clock on; concurrent advances all count (one read-and-write transaction). A move that
        would leave FIRST_YEAR..LAST_YEAR raises ClockOutOfRange and changes nothing."""

        def moved(old: str | None) -> str:
            offset = float(old or 0) + delta.total_seconds()
            target = self._shown(offset)
            check_range(target)
            return repr(offset)

        self._store.update_setting("clock_offset_seconds", moved)

    @staticmethod
    def _shown(offset_seconds: float) -> datetime:
        """The time the clock shows with ``offset_seconds``; ClockOutOfRange when datetime cannot hold it."""
        if not math.isfinite(offset_seconds):
            raise ClockOutOfRange("the clock offset must be a finite number of seconds")
        try:
            return real_now() + timedelta(seconds=offset_seconds)
        except OverflowError:
            raise ClockOutOfRange(
                f"moving the clock by {offset_seconds:g} s leaves the years it can show ({FIRST_YEAR}-{LAST_YEAR})"
            ) from None


def parse_iso(value: str) -> datetime:
    """ISO-8601 date or date-time; a date means midnight UTC, a naive time means UTC. ValueError when it
    is not one, ClockOutOfRange (a ValueError) when its year is outside FIRST_YEAR..LAST_YEAR."""
    when = datetime.fromisoformat(value)
    return check_range(when if when.tzinfo else when.replace(tzinfo=UTC))


def sevis_timestamp(when: datetime) -> str:
    """xs:dateTime as SEVIS writes it (PROTOCOL §3a): America/New_York local time with milliseconds and the
    UTC offset of that moment (daylight saving followed), e.g. ``2019-05-21T11:55:36.234-04:00``. A naive
    ``when`` is UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(SEVIS_ZONE).isoformat(timespec="milliseconds")
