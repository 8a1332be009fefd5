"""Fault rules: the table, the rule format and matching.

A rule is JSON (or YAML) such as ``{"match": {"endpoint": "upload"}, "respond": {"disposition": "S0001"},
"times": 1}``. :func:`parse_rule` checks it and says what to fix; :class:`FaultRule` is the checked form;
:func:`claim` picks the faults that answer one request (or handshake, or batch) and counts their hits
inside one write transaction, so that ``times`` and ``nth`` hold across every worker process.
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from ..clock import parse_iso
from ..store import Fault

EASTERN = "America/New_York"  # SEVIS's own time (PROTOCOL §3a)
MAX_DELAY_SECONDS = 300.0  # a delay holds one of the server's threads: bounded
MAX_TIMES = 1_000_000

ENVIRONMENT_NAMES = ("production", "beta", "alpha")
ENDPOINTS = ("upload", "download", "rti", "batch", "any")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# respond kinds -> what they do (listed by `GET /control/faults/kinds` and the README)
HTTP_STATUSES = {
    403: "Forbidden: the HTML page of the gateway in front of SEVIS",
    500: "Internal Server Error (HTML)",
    502: "Bad Gateway: the gateway's HTML page",
    503: "Service Unavailable with Retry-After",
    504: "Gateway Timeout: the gateway's HTML page",
}
CONNECTION_FAULTS = {
    "reset": "the TCP connection is reset (RST) instead of an answer",
    "cut_body": "the headers and half the body are sent, then the connection closes",
    "tls_handshake": "the TLS handshake fails (handshake_failure alert)",
}
ZIP_FAULTS = {
    "truncated": "the zip is cut in half (Content-Length matches the cut body)",
    "corrupt": "the zip's bytes are garbled after its first entry header",
    "no_pdfs": "the zip holds the transaction log only",
    "no_log": "the zip holds the PDFs only, no sevis_transaction_log.xml",
    "malformed_log": "the transaction log in the zip is not well-formed XML",
    "no_download_part": "the transaction log lacks its Download part",
}
PROCESS_FAULTS = {
    "overnight": "the batch is processed at the next 02:00 Eastern (mock clock)",
    "batch_failure": "processing fails as a whole: Process resultCode S0001, no record applied",
    "record_errors": "every record fails with S2000 (an internal error while processing), none applied",
}
CERTIFICATE_FAULTS = ("expired", "revoked")
CERTIFICATE_REFUSALS = ("handshake", "S0002")

# disposition codes a batch endpoint can answer with (result-codes.csv); S9999 is not in the catalogue
UPLOAD_CODES = ("S0001", "S0002", "S0003", "S0010", "S0011", "S0012", "S0013")
DOWNLOAD_CODES = ("S0001", "S0002", "S0003", "S0030", "S0031")
NEAREST_REAL = {"S9999": "S0001"}  # [i] the catalogue has no S9999; its catch-all is S0001

KINDS = (
    "disposition",
    "http_status",
    "delay_seconds",
    "connection",
    "zip",
    "not_yet_processed",
    "process",
    "maintenance",
    "certificate",
)
DEFAULT_ENDPOINT = {
    "disposition": "batch",
    "http_status": "batch",
    "delay_seconds": "batch",
    "connection": "batch",
    "zip": "download",
    "not_yet_processed": "download",
    "process": "upload",
    "maintenance": "any",
    "certificate": "batch",
}


class FaultError(ValueError):
    """A fault rule that cannot be used; the message says what to fix."""


def checked(fault: Fault) -> "FaultRule":
    """The stored rule of ``fault`` in its checked form."""
    return FaultRule.from_json(fault.rule)


def fault_dict(fault: Fault, now: datetime | None = None) -> dict:
    """``fault`` as the control API shows it (``active`` too when ``now`` is given)."""
    rule = checked(fault)
    data = {
        "id": fault.id,
        "name": fault.name,
        "kind": fault.kind,
        **rule.to_dict(),
        "hits": fault.hits,
        "seen": fault.seen,
        "created_at": fault.created_at.isoformat(timespec="seconds"),
        "last_hit_at": fault.last_hit_at.isoformat(timespec="seconds") if fault.last_hit_at else None,
    }
    if now is not None:
        data["active"] = rule.live(fault.hits, now)
    return data


# --- the rule format --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Recurring windows, e.g. weekend nights 22:00-06:00 Eastern: each listed day from ``start`` to
    ``end`` (the next day when ``end`` is not after ``start``)."""

    days: tuple[str, ...]
    start: time
    end: time
    timezone: str = EASTERN

    def window_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window holding ``now``, or None."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        for back in (0, 1):
            day = local.date() - timedelta(days=back)
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opens = datetime.combine(day, self.start, zone)
            closes = datetime.combine(day, self.end, zone)
            if closes <= opens:
                closes += timedelta(days=1)
            if opens <= local < closes:
                return opens.astimezone(UTC), closes.astimezone(UTC)
        return None

    def to_dict(self) -> dict:
        return {
            "days": list(self.days),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "timezone": self.timezone,
        }


@dataclass(frozen=True)
class Match:
    endpoint: str
    environment: str | None = None
    org: str | None = None
    user: str | None = None
    batch: str | None = None  # a glob: FM*, ????????????01
    nth: int = 1
    starts: datetime | None = None
    ends: datetime | None = None
    schedule: Schedule | None = None

    def to_dict(self) -> dict:
        data = {
            "endpoint": self.endpoint,
            "environment": self.environment,
            "org": self.org,
            "user": self.user,
            "batch": self.batch,
            "nth": self.nth if self.nth != 1 else None,
            "from": self.starts.isoformat(timespec="seconds") if self.starts else None,
            "until": self.ends.isoformat(timespec="seconds") if self.ends else None,
            "schedule": self.schedule.to_dict() if self.schedule else None,
        }
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class FaultRule:
    kind: str
    respond: dict
    match: Match
    times: int | None = None
    notes: tuple[str, ...] = field(default=())

    # -- (de)serialising ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data: dict[str, Any] = {"match": self.match.to_dict(), "respond": self.respond, "times": self.times}
        if self.notes:
            data["notes"] = list(self.notes)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "FaultRule":
        data = json.loads(text)
        return parse_rule(data, now=None, notes=tuple(data.get("notes", ())))

    # -- matching ----------------------------------------------------------------------------------
    @property
    def answers(self) -> bool:
        """Gives (or shapes) the answer; a delay only holds it back."""
        return self.kind != "delay_seconds"

    @property
    def handshake_fault(self) -> bool:
        return self.respond.get("connection") == "tls_handshake"

    def in_window(self, now: datetime) -> bool:
        m = self.match
        if m.starts is not None and now < m.starts:
            return False
        if m.ends is not None and now >= m.ends:
            return False
        return m.schedule is None or m.schedule.window_at(now) is not None

    def live(self, hits: int, now: datetime) -> bool:
        """Could still act: not used up and not past its window."""
        if self.times is not None and hits >= self.times:
            return False
        return self.match.ends is None or now < self.match.ends

    def fits(self, facts: "RequestFacts") -> bool:
        """The request's own facts fit the match (the counters are checked by :func:`claim`)."""
        m = self.match
        if self.handshake_fault or facts.endpoint == "handshake":
            return self.handshake_fault and facts.endpoint == "handshake" and self.in_window(facts.now)
        if not _endpoint_fits(m.endpoint, facts.endpoint):
            return False
        if m.environment is not None and facts.environment != m.environment:
            return False
        if m.org is not None and facts.org != m.org:
            return False
        if m.user is not None and facts.user != m.user:
            return False
        if m.batch is not None and not fnmatch.fnmatchcase((facts.batch or "")[:64], m.batch):
            return False
        return self.in_window(facts.now)

    def delay(self, rng: random.Random | None = None) -> float:
        value = self.respond["delay_seconds"]
        if isinstance(value, dict):
            return (rng or random).uniform(value["min"], value["max"])
        return float(value)


def _endpoint_fits(wanted: str, actual: str) -> bool:
    if wanted == actual:
        return True
    if wanted == "batch":
        return actual in ("upload", "download")
    if wanted == "any":
        return actual in ("upload", "download", "rti")
    return False


@dataclass(frozen=True)
class RequestFacts:
    """What a fault can match on. ``endpoint``: upload, download, rti, processing or handshake."""

    endpoint: str
    now: datetime
    environment: str | None = None
    org: str | None = None
    user: str | None = None
    batch: str | None = None


# --- parsing ----------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\+(\d+(?:\.\d+)?)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def show(value) -> str:
    """A value for an error message: short, and never an expansion of something huge."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return f"a {type(value).__name__}"


def parse_moment(value, now: datetime | None, where: str) -> datetime:
    """An ISO-8601 mock time, or ``+90s`` / ``+15m`` / ``+2h`` / ``+1d`` after ``now`` (when the fault is made)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise FaultError(f"{where}: a time as text (ISO-8601, or +90s / +15m / +2h / +1d), not {show(value)}")
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        if now is None:
            raise FaultError(f"{where}: a relative time ({text}) needs the mock clock")
        return now + timedelta(seconds=float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)])
    try:
        return parse_iso(text)
    except ValueError:
        raise FaultError(
            f"{where}: {show(text)} is neither an ISO-8601 mock time (2027-01-15T09:00:00) nor a time after now "
            "(+90s, +15m, +2h, +1d)"
        ) from None


def _clock_time(value, where: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise FaultError(f"{where}: {show(value)} is not a time of day such as 22:00") from None


def _schedule(data, where: str) -> Schedule:
    if not isinstance(data, dict):
        raise FaultError(f'{where}: give {{"days": ["sat", "sun"], "start": "22:00", "end": "06:00"}}')
    _only(data, ("days", "start", "end", "timezone"), where)
    days = data.get("days", list(WEEKDAYS))
    if isinstance(days, str):
        days = [days]
    if not isinstance(days, list) or not days:
        raise FaultError(f"{where}.days: a list of days ({', '.join(WEEKDAYS)})")
    if not all(isinstance(d, str) for d in days):
        raise FaultError(f"{where}.days: names of days ({', '.join(WEEKDAYS)})")
    wanted = tuple(d.strip().lower()[:3] for d in days)
    unknown = [d for d in wanted if d not in WEEKDAYS]
    if unknown:
        raise FaultError(f"{where}.days: {', '.join(unknown)} not a day; use {', '.join(WEEKDAYS)}")
    if "start" not in data or "end" not in data:
        raise FaultError(f"{where}: give both start and end (times of day, e.g. 22:00 and 06:00)")
    zone = data.get("timezone", EASTERN)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise FaultError(f"{where}.timezone: {show(zone)} is not a time zone name such as {EASTERN}") from None
    start, end = _clock_time(data["start"], f"{where}.start"), _clock_time(data["end"], f"{where}.end")
    if start == end:
        raise FaultError(f"{where}: start and end are the same time; a window needs some length")
    return Schedule(wanted, start, end, zone)


def _only(data: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(show(k) if not isinstance(k, str) else k[:40] for k in set(data) - set(allowed))
    if unknown:
        raise FaultError(f"{where}: unknown field(s) {', '.join(unknown[:10])}; known: {', '.join(allowed)}")


def _text(data: dict, key: str, where: str, limit: int = 64) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or not str(value).strip() or len(str(value)) > limit:
        raise FaultError(f"{where}.{key}: a non-empty string of at most {limit} characters")
    return str(value).strip()


def _positive_int(value, where: str, limit: int = MAX_TIMES) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise FaultError(f"{where}: a whole number from 1 to {limit}, not {show(value)}")
    return value


def _seconds(value, where: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= limit:
        raise FaultError(f"{where}: a number of seconds from 0 to {limit:g}, not {show(value)}")
    return float(value)


def parse_rule(data, *, now: datetime | None, notes: tuple[str, ...] = ()) -> FaultRule:
    """Check one fault rule (a dict from JSON or YAML); ``now`` (mock clock) anchors relative times and
    ``duration_seconds``. Raises :class:`FaultError` saying what to fix."""
    if not isinstance(data, dict):
        raise FaultError('a fault is an object: {"match": {...}, "respond": {...}, "times": N}')
    _only(data, ("match", "respond", "times", "duration_seconds", "name", "notes"), "fault")
    respond = data.get("respond")
    if not isinstance(respond, dict) or not respond:
        raise FaultError(f"respond: an object with one of {', '.join(KINDS)}")
    kinds = [k for k in KINDS if k in respond]
    if len(kinds) != 1:
        raise FaultError(
            f"respond: give exactly one of {', '.join(KINDS)} (got {', '.join(map(str, respond)) or 'none'})"
        )
    kind = kinds[0]
    notes_list = list(notes)
    respond = _RESPOND[kind](dict(respond), notes_list)

    raw_match = data.get("match", {}) or {}
    if not isinstance(raw_match, dict):
        raise FaultError("match: an object (endpoint, environment, org, user, batch, nth, from, until, schedule)")
    _only(raw_match, ("endpoint", "environment", "org", "user", "batch", "nth", "from", "until", "schedule"), "match")
    endpoint = raw_match.get("endpoint", DEFAULT_ENDPOINT[kind])
    if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
        raise FaultError(f"match.endpoint: one of {', '.join(ENDPOINTS)}, not {show(endpoint)}")
    _check_endpoint(kind, respond, endpoint, raw_match)
    environment = raw_match.get("environment")
    if environment is not None and (not isinstance(environment, str) or environment not in ENVIRONMENT_NAMES):
        raise FaultError(f"match.environment: one of {', '.join(ENVIRONMENT_NAMES)}, not {show(environment)}")
    starts = parse_moment(raw_match["from"], now, "match.from") if raw_match.get("from") is not None else None
    if kind == "certificate" and "at" in respond:
        starts = parse_moment(respond.pop("at"), now, "respond.at")
    ends = parse_moment(raw_match["until"], now, "match.until") if raw_match.get("until") is not None else None
    if data.get("duration_seconds") is not None:
        if now is None:
            raise FaultError("duration_seconds needs the mock clock")
        duration = _seconds(data["duration_seconds"], "duration_seconds", 10 * 365 * 86400.0)
        limit = (starts or now) + timedelta(seconds=duration)
        ends = min(ends, limit) if ends else limit
    if starts and ends and ends <= starts:
        raise FaultError("match: until (or from + duration_seconds) must come after from")
    match = Match(
        endpoint=endpoint,
        environment=environment,
        org=_text(raw_match, "org", "match"),
        user=_text(raw_match, "user", "match"),
        batch=_text(raw_match, "batch", "match"),
        nth=_positive_int(raw_match.get("nth", 1), "match.nth"),
        starts=starts,
        ends=ends,
        schedule=_schedule(raw_match["schedule"], "match.schedule") if raw_match.get("schedule") is not None else None,
    )
    times = data.get("times")
    if times is not None:
        times = _positive_int(times, "times")
    return FaultRule(kind=kind, respond=respond, match=match, times=times, notes=tuple(notes_list))


def _check_endpoint(kind: str, respond: dict, endpoint: str, raw_match: dict) -> None:
    if kind in ("zip", "not_yet_processed") and endpoint != "download":
        raise FaultError(f"respond.{kind} changes a download: match.endpoint must be download (or left out)")
    if kind == "process" and endpoint != "upload":
        raise FaultError("respond.process changes how an uploaded batch is processed: match.endpoint must be upload")
    if kind == "disposition":
        codes = {"upload": UPLOAD_CODES, "download": DOWNLOAD_CODES}.get(endpoint)
        if endpoint in ("rti", "any"):
            raise FaultError("respond.disposition answers a batch endpoint: match.endpoint upload, download or batch")
        allowed = codes or tuple(c for c in UPLOAD_CODES if c in DOWNLOAD_CODES)
        if respond["disposition"] not in allowed:
            raise FaultError(
                f"respond.disposition {respond['disposition']} cannot answer endpoint {endpoint}; "
                f"use one of {', '.join(allowed)}"
            )
    if kind == "connection" and respond["connection"] == "tls_handshake":
        narrowing = [k for k in ("environment", "org", "user", "batch") if k in raw_match]
        if endpoint != "batch" and "endpoint" in raw_match and raw_match["endpoint"] != "any":
            narrowing.insert(0, "endpoint")
        if narrowing:
            raise FaultError(
                f"match.{narrowing[0]}: a TLS handshake fails before any request is read, so it can match only "
                "nth, from, until and schedule; to fail one organization's handshakes use "
                '{"respond": {"certificate": "revoked"}, "match": {"org": ...}}'
            )
    if kind == "certificate" and endpoint not in ("batch", "upload", "download"):
        raise FaultError("respond.certificate refuses batch requests: match.endpoint upload, download or batch")


# --- one checker per respond kind ---------------------------------------------------------------------

_RESPOND: dict = {}


def respond_kind(name: str):
    def register(func):
        _RESPOND[name] = func
        return func

    return register


@respond_kind("disposition")
def _disposition(respond: dict, notes: list[str]) -> dict:
    _only(respond, ("disposition",), "respond")
    code = respond["disposition"]
    if not isinstance(code, str):
        raise FaultError(f"respond.disposition: a result code such as S0001, not {show(code)}")
    code = code.strip().upper()
    if code in NEAREST_REAL:
        notes.append(
            f"{code} is not in SEVIS's result-code catalogue; answered with the nearest real code, "
            f"{NEAREST_REAL[code]} (general upload/download failure)"
        )
        code = NEAREST_REAL[code]
    known = sorted(set(UPLOAD_CODES) | set(DOWNLOAD_CODES))
    if code not in known:
        raise FaultError(
            f"respond.disposition: one of {', '.join(known)} (SEVIS's batch dispositions), not {show(code)}"
        )
    return {"disposition": code}


@respond_kind("http_status")
def _http_status(respond: dict, notes: list[str]) -> dict:
    _only(respond, ("http_status", "retry_after"), "respond")
    status = respond["http_status"]
    if isinstance(status, bool) or not isinstance(status, int) or status not in HTTP_STATUSES:
        raise FaultError(f"respond.http_status: one of {', '.join(map(str, HTTP_STATUSES))}, not {show(status)}")
    out = {"http_status": status}
    if status == 503:
        out["retry_after"] = int(_seconds(respond.get("retry_after", 120), "respond.retry_after", 86400.0))
    elif "retry_after" in respond:
        raise FaultError("respond.retry_after goes with http_status 503 only")
    return out


@respond_kind("delay_seconds")
def _delay(respond: dict, notes: list[str]) -> dict:
    _only(respond, ("delay_seconds",), "respond")
    value = respond["delay_seconds"]
    if isinstance(value, dict):
        _only(value, ("min", "max"), "respond.delay_seconds")
        low = _seconds(value.get("min", 0), "respond.delay_seconds.min", MAX_DELAY_SECONDS)
        high = _seconds(value.get("max"), "respond.delay_seconds.max", MAX_DELAY_SECONDS)
        if high < low:
            raise FaultError("respond.delay_seconds: max must not be below min")
        return {"delay_seconds": {"min": low, "max": high}}
    if isinstance(value, list) and len(value) == 2:
        return _delay({"delay_seconds": {"min": value[0], "max": value[1]}}, notes)
    return {"delay_seconds": _seconds(value, "respond.delay_seconds", MAX_DELAY_SECONDS)}


def _choice(respond: dict, key: str, choices, extra: tuple[str, ...] = ()) -> str:
    _only(respond, (key, *extra), "respond")
    value = respond[key]
    if not isinstance(value, str) or value not in choices:
        raise FaultError(f"respond.{key}: one of {', '.join(choices)}, not {show(value)}")
    return value


@respond_kind("connection")
def _connection(respond: dict, notes: list[str]) -> dict:
    return {"connection": _choice(respond, "connection", tuple(CONNECTION_FAULTS))}


@respond_kind("zip")
def _zip(respond: dict, notes: list[str]) -> dict:
    return {"zip": _choice(respond, "zip", tuple(ZIP_FAULTS))}


@respond_kind("process")
def _process(respond: dict, notes: list[str]) -> dict:
    return {"process": _choice(respond, "process", tuple(PROCESS_FAULTS))}


@respond_kind("not_yet_processed")
def _not_yet(respond: dict, notes: list[str]) -> dict:
    _only(respond, ("not_yet_processed",), "respond")
    if respond["not_yet_processed"] is not True:
        raise FaultError("respond.not_yet_processed: true (limit it with times: N polls or match.until)")
    return {"not_yet_processed": True}


@respond_kind("maintenance")
def _maintenance(respond: dict, notes: list[str]) -> dict:
    _only(respond, ("maintenance", "message"), "respond")
    if respond["maintenance"] is not True:
        raise FaultError("respond.maintenance: true (limit it with match.schedule, from/until or times)")
    out: dict = {"maintenance": True}
    if respond.get("message") is not None:
        if not isinstance(respond["message"], str):
            raise FaultError("respond.message: text for the maintenance page")
        out["message"] = respond["message"][:500]
    return out


@respond_kind("certificate")
def _certificate(respond: dict, notes: list[str]) -> dict:
    what = _choice(respond, "certificate", CERTIFICATE_FAULTS, ("at", "refuse"))
    refuse = respond.get("refuse", "handshake")
    if not isinstance(refuse, str) or refuse not in CERTIFICATE_REFUSALS:
        raise FaultError(f"respond.refuse: one of {', '.join(CERTIFICATE_REFUSALS)}, not {show(refuse)}")
    out = {"certificate": what, "refuse": refuse}
    if "at" in respond:
        out["at"] = respond["at"]
    return out


# --- claiming: which faults act on one request ----------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    rule: FaultRule


def candidates(session, kinds: tuple[str, ...] | None = None) -> list[Fault]:
    query = select(Fault).order_by(Fault.id)
    if kinds is not None:
        query = query.where(Fault.kind.in_(kinds))
    return list(session.scalars(query))


@dataclass(frozen=True)
class StoredRule:
    """A stored fault as read at one moment: its id, its hit count then, and its checked rule."""

    id: int
    hits: int
    rule: FaultRule


def stored_rules(store, kinds: tuple[str, ...] | None = None) -> list[StoredRule]:
    """Every stored fault (of ``kinds``), oldest first, read in one statement."""
    with store.session() as s:
        return [StoredRule(f.id, f.hits, checked(f)) for f in candidates(s, kinds)]


def fitting(
    rules: list[StoredRule], facts: RequestFacts, wants: Callable[[FaultRule], bool] = lambda rule: True
) -> list[int]:
    """The ids of the ``rules`` that could act on this request: wanted, not used up and fitting its facts (the
    counters as read; :func:`claim_fitting` checks them again under the write lock)."""
    return [r.id for r in rules if wants(r.rule) and r.rule.live(r.hits, facts.now) and r.rule.fits(facts)]


def claim(store, facts: RequestFacts, wants: Callable[[FaultRule], bool] = lambda rule: True) -> list[Claimed]:
    """The faults that act on this request, oldest first, their counters updated.

    A cheap read first: most requests meet no fault and take no write lock. Every fault whose match fits
    counts the request (``seen``); it acts from its ``nth`` matching request on, until ``times`` hits."""
    return claim_fitting(store, facts, fitting(stored_rules(store), facts, wants))


def claim_fitting(store, facts: RequestFacts, ids: list[int]) -> list[Claimed]:
    """:func:`claim` of the faults ``ids`` found fitting (by :func:`fitting`, from the rules read by this process at
    any time): the database decides, in one write transaction, which of them still act."""
    if not ids:
        return []
    acted: list[Claimed] = []
    with store.write() as s:
        for fault in s.scalars(select(Fault).where(Fault.id.in_(ids)).order_by(Fault.id)):
            rule = checked(fault)
            if not rule.live(fault.hits, facts.now):
                continue
            fault.seen += 1
            if fault.seen < rule.match.nth:
                continue
            if rule.answers and any(c.rule.answers for c in acted):
                continue  # one answer per request: the next fault of a sequence waits for the next request
            fault.hits += 1
            fault.last_hit_at = facts.now
            acted.append(Claimed(fault.id, fault.kind, rule))
    return acted


def add_fault(store, rule: FaultRule, now: datetime, name: str = "") -> Fault:
    with store.write() as s:
        fault = Fault(name=name[:200], kind=rule.kind, rule=rule.to_json(), created_at=now, seen=0, hits=0)
        s.add(fault)
        s.flush()
        return fault
