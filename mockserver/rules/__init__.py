"""Business rules: each rule is one small function tied to one catalogue code.

A rule receives a :class:`RuleContext` and returns ``None`` when the record passes, or a
:class:`Violation` carrying the code and the catalogue message (placeholders filled).
Rules are registered per event ("fm.create", "fm.Registration", "j.Validate", …) with :func:`rule`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Protocol, Sequence

from lxml import etree

from ..catalog import message
from ..xmlsafe import XML_SPACE


@dataclass(frozen=True)
class Violation:
    code: str
    message: str

    @classmethod
    def of(cls, code: str, **fill: str) -> "Violation":
        return cls(code, message(code, **fill))


class StoredRecord(Protocol):
    """What rules read of a stored record, principal or dependent (the store's ``Record`` row)."""

    @property
    def sevis_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def document(self) -> str: ...  # the record's XML as it stands
    @property
    def relationship_code(self) -> str: ...  # dependents: SEVIS's relationship code ("" for a principal)


class ActingOfficial(Protocol):
    """What rules read of the official a record names (the store's ``Official`` row)."""

    @property
    def org_id(self) -> str: ...
    @property
    def role(self) -> str: ...  # PDSO | DSO | RO | ARO


DuplicateKey = tuple[str, ...]  # rules.fm.duplicate_key: surname, given name, birth date, birth country, gender
HistoryEntry = tuple[str, etree._Element | None]  # (event name, event element) of an applied event


@dataclass
class RuleContext:
    kind: str  # "F/M" | "J"
    event: str  # "create" or the update event's element name
    element: etree._Element  # the Student / ExchangeVisitor element of the batch
    event_element: etree._Element | None  # for updates, the event element (e.g. <Registration>)
    now: datetime  # the mock clock
    record: StoredRecord | None = None  # the stored principal record, for updates
    duplicate_keys_seen: set[DuplicateKey] = field(default_factory=set)  # creates earlier in this batch
    existing_duplicate: Callable[[DuplicateKey], bool] = lambda key: False
    # Lazily loaded facts about the stored record and the organization (set by the processor):
    load_dependents: Callable[[], Sequence[StoredRecord]] = lambda: []  # the principal's dependents
    load_history: Callable[[], Sequence[HistoryEntry]] = lambda: []  # oldest first
    lookup_official: Callable[[str], ActingOfficial | None] = lambda user_id: None
    # The organization's profile (mockserver/profiles.py: a school's I-17 facts, a sponsor's designation);
    # None where no store is behind the rules (offline validation without a state file).
    load_profile: Callable[[], dict[str, Any] | None] = lambda: None
    # Other agencies' events on a record (mockserver/agency.py), by SEVIS ID: [detail element, ...] oldest first
    load_agency_events: Callable[[str], Sequence[etree._Element]] = lambda sevis_id: []
    count_org_records: Callable[[], int] = lambda: 0  # principal records the organization holds (every environment)
    org_id: str = ""

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def stored(self) -> etree._Element | None:
        """The stored record as it stands before this event: its create element, amended by every
        event applied since (None for creates)."""
        if self.record is None:
            return None
        cached = self.__dict__.get("_stored")
        if cached is None:
            cached = etree.fromstring(self.record.document)
            self.__dict__["_stored"] = cached
        return cached

    @property
    def profile(self) -> dict[str, Any] | None:
        if "_profile" not in self.__dict__:
            self.__dict__["_profile"] = self.load_profile()
        return self.__dict__["_profile"]

    def agency_events(self, name: str, sevis_id: str | None = None) -> list[etree._Element]:
        """The record's (or the named dependent's) ``name`` events recorded by other agencies, oldest first."""
        if sevis_id is None:
            if self.record is None:
                return []
            sevis_id = self.record.sevis_id
        cache = self.__dict__.setdefault("_agency", {})
        if sevis_id not in cache:
            cache[sevis_id] = list(self.load_agency_events(sevis_id))
        return [e for e in cache[sevis_id] if e.tag == name]

    @property
    def dependents(self) -> list[StoredRecord]:
        cached = self.__dict__.get("_dependents")
        if cached is None:
            cached = list(self.load_dependents())
            self.__dict__["_dependents"] = cached
        return cached

    @property
    def history(self) -> list[HistoryEntry]:
        cached = self.__dict__.get("_history")
        if cached is None:
            cached = list(self.load_history())
            self.__dict__["_history"] = cached
        return cached


RuleCheck = Callable[[RuleContext], Violation | None]


@dataclass(frozen=True)
class Rule:
    code: str
    events: tuple[str, ...]  # "fm.create", "j.Status", …
    condition: str
    check: RuleCheck


# The order rules run in, by module: within one event the first failing rule wins, so this order decides
# which code a record gets when several rules fail it. Who acts first (the acting official), then what the
# organization is approved or designated for (``*_profile``), what other agencies hold about an exchange
# visitor (``j_agency``), the status tables (``fm``, ``j``), the J families (people, dates, funds, events,
# residence, T/IPP, sites), the addresses both kinds share, the F/M families, and J's code-table checks last.
# Within a module, rules run in the order they are defined. Registration sorts by this list, so the order
# does not depend on which module Python happens to import first.
RULE_ORDER: tuple[str, ...] = (
    "fm_authority",
    "j_authority",
    "fm_profile",
    "j_profile",
    "j_agency",
    "fm",
    "j",
    "j_people",
    "j_dates",
    "j_funds",
    "j_events",
    "j_residence",
    "j_tipp",
    "j_sites",
    "address",
    "fm_addresses",
    "fm_agency",
    "fm_dates",
    "fm_dependents",
    "fm_personal",
    "fm_dropbelow",
    "fm_education",
    "fm_employment",
    "fm_financial",
    "fm_names",
    "fm_status",
    "j_tables",
)
# Modules of this package that register no rule: shared facts and the tables of codes no rule answers.
HELPER_MODULES: tuple[str, ...] = ("fm_facts", "fm_undecidable", "j_common", "keys")

RULES: list[Rule] = []  # every registered rule, always kept in RULE_ORDER


def _module_rank(r: Rule) -> int:
    return RULE_ORDER.index(r.check.__module__.rpartition(".")[2])


def rule(code: str, *events: str) -> Callable[[RuleCheck], RuleCheck]:
    """Register ``fn`` as the rule for ``code`` on ``events``; its docstring is the one-line condition."""

    def register(fn: RuleCheck) -> RuleCheck:
        module = fn.__module__.rpartition(".")[2]
        if module not in RULE_ORDER:
            raise ValueError(f"rule {fn.__name__} ({code}) is in module {module!r}: add it to rules.RULE_ORDER")
        RULES.append(Rule(code, events, (fn.__doc__ or "").strip().splitlines()[0], fn))
        RULES.sort(key=_module_rank)  # stable: definition order within a module is kept
        return fn

    return register


def event_name(event_element: etree._Element | None, event: str = "") -> str:
    """The action an update names: the event tag, or ``Status/<Action>`` for a Status event."""
    if event_element is None:
        return event
    if event_element.tag == "Status" and len(event_element) and isinstance(event_element[0].tag, str):
        return f"Status/{event_element[0].tag}"
    return event_element.tag


def event_key(kind: str, event: str) -> str:
    return f"{'fm' if kind == 'F/M' else 'j'}.{event}"


# which list of rules was indexed and how long it was, and the rules of each event key
_INDEX: list[tuple[tuple[int, int], dict[str, list[Rule]]]] = [((0, 0), {})]


def _rules_of(key: str) -> list[Rule]:
    """The rules of event ``key``, in RULES' order: looked up, not searched for among all of them at each record.
    Built again, whole, and swapped in at once (threads may read it meanwhile), when a rule was registered."""
    indexed, index = _INDEX[0]
    if indexed != (id(RULES), len(RULES)):
        index = {}
        for r in RULES:
            for event in r.events:
                index.setdefault(event, []).append(r)
        _INDEX[0] = ((id(RULES), len(RULES)), index)
    return index.get(key, [])


# What `text` found while one record's rules run (`first_violation`): the rules read the same few fields again and
# again (71 look-ups of 26 paths for a new student, each a few microseconds), and none changes the document.
_TEXTS: ContextVar[dict[tuple[etree._Element, str], str | None] | None] = ContextVar("rule_texts", default=None)


def first_violation(ctx: RuleContext) -> Violation | None:
    memo = _TEXTS.set({})
    try:
        for r in _rules_of(event_key(ctx.kind, ctx.event)):
            found = r.check(ctx)
            if found is not None:
                return found
        return None
    finally:
        _TEXTS.reset(memo)


# --- helpers shared by rule modules -------------------------------------------------------------


def text(element: etree._Element | None, path: str) -> str | None:
    """Text of the first element at ``path`` under ``element`` (None when absent)."""
    if element is None:
        return None
    memo = _TEXTS.get()
    if memo is not None and (element, path) in memo:
        return memo[element, path]
    found = element.find(path)
    value = None if found is None else (found.text or "").strip(XML_SPACE)
    if memo is not None:
        memo[element, path] = value  # the key holds the element: no other can take its identity meanwhile
    return value


def as_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def amount(element: etree._Element | None, path: str) -> int:
    value = text(element, path)
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the month's last day (Jan 31 + 1 = Feb 28)."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: every month has a 28th


def action(ctx: RuleContext, *names: str) -> etree._Element | None:
    """The event's action element (e.g. ``Add`` of ``<CPTEmployment>``) when its tag is one of ``names``."""
    if ctx.event_element is None:
        return None
    for child in ctx.event_element:
        if isinstance(child.tag, str) and child.tag not in ("UserDefinedA", "UserDefinedB"):
            return child if not names or child.tag in names else None
    return None


def acting_official(ctx: RuleContext) -> ActingOfficial | None:
    """The official the record's userID names (None when SEVIS knows no such official)."""
    return ctx.lookup_official(ctx.element.get("userID", ""))


def may_not_act(ctx: RuleContext, roles: set[str]) -> bool:
    """The record's userID is a known official who is of another organization, or not in one of ``roles``."""
    official = acting_official(ctx)
    return official is not None and (official.org_id != ctx.org_id or official.role not in roles)


def sent(ctx: RuleContext) -> etree._Element:
    """What this request sends: the create element itself, or an update's event element."""
    if ctx.event == "create" or ctx.event_element is None:
        return ctx.element
    return ctx.event_element


def student(ctx: RuleContext) -> etree._Element:
    """The principal's data: the create element itself, or the stored record for an update."""
    stored = ctx.stored  # None exactly when there is no stored record (a create)
    return ctx.element if stored is None else stored


def history_actions(ctx: RuleContext, event_tag: str) -> list[etree._Element]:
    """Action elements (``Add``, ``Cancel``, …) of earlier applied ``event_tag`` events, oldest first."""
    found: list[etree._Element] = []
    for _name, element in ctx.history:
        if element is None or element.tag != event_tag:
            continue
        found.extend(c for c in element if isinstance(c.tag, str) and c.tag not in ("UserDefinedA", "UserDefinedB"))
    return found


def rule_modules() -> list[str]:
    """Every module of this package: the rule modules in :data:`RULE_ORDER`, then the helper modules."""
    return [*RULE_ORDER, *HELPER_MODULES]


def _register_all() -> None:
    import importlib

    for name in rule_modules():
        importlib.import_module(f"{__name__}.{name}")


_register_all()
