"""The order business rules run in: one explicit list, pinned here, independent of import order.

Within one event the first failing rule wins, so moving a module in ``rules.RULE_ORDER`` changes which code a
record with several faults gets: change this pin only on purpose."""

from __future__ import annotations

import itertools
import pkgutil

import pytest

from sevis_mock.server import rules
from sevis_mock.server.rules import RULE_ORDER, RULES, Violation, rule

# the pin, one line: a change to rules.RULE_ORDER must change it too, on purpose
PINNED = tuple(
    "fm_authority j_authority fm_profile j_profile j_agency fm j j_people j_dates j_funds j_events j_residence j_tipp "
    "j_sites address fm_addresses fm_agency fm_dates fm_dependents fm_personal fm_dropbelow fm_education "
    "fm_employment fm_financial fm_names fm_status j_tables".split()
)


def _module(r: rules.Rule) -> str:
    return r.check.__module__.rpartition(".")[2]


def test_the_order_is_pinned() -> None:
    assert RULE_ORDER == PINNED


def test_registered_rules_run_in_that_order() -> None:
    runs = [name for name, _ in itertools.groupby(_module(r) for r in RULES)]
    assert runs == list(RULE_ORDER)  # each module's rules together, the modules in RULE_ORDER


def test_every_module_is_placed() -> None:
    found = {m.name for m in pkgutil.iter_modules(rules.__path__)}
    assert found == set(rules.rule_modules())
    assert not set(RULE_ORDER) & set(rules.HELPER_MODULES)
    assert not {_module(r) for r in RULES} & set(rules.HELPER_MODULES)  # helpers register no rule


def test_rules_within_a_module_keep_their_definition_order() -> None:
    from sevis_mock.server.rules import fm

    defined = [fn for fn in vars(fm).values() if any(r.check is fn for r in RULES)]
    assert [r.check for r in RULES if _module(r) == "fm"] == defined


def _late_check(ctx: rules.RuleContext) -> Violation | None:
    """A rule registered after every module was imported."""
    return None


def test_a_rule_registered_late_still_takes_its_modules_place() -> None:
    _late_check.__module__ = f"{rules.__name__}.j_authority"
    try:
        rule("S9999", "j.create")(_late_check)
        place = next(i for i, r in enumerate(RULES) if r.check is _late_check)
        before, after = RULES[place - 1], RULES[place + 1]
        assert _module(before) == "j_authority" and _module(after) == "fm_profile"
    finally:
        RULES[:] = [r for r in RULES if r.check is not _late_check]


def test_a_rule_outside_the_order_is_refused() -> None:
    _late_check.__module__ = f"{rules.__name__}.fm_new_family"
    with pytest.raises(ValueError, match="RULE_ORDER"):
        rule("S9999", "fm.create")(_late_check)
    assert all(r.check is not _late_check for r in RULES)


def test_first_violation_runs_each_events_rules_in_order_and_sees_a_rule_registered_later(monkeypatch) -> None:
    """first_violation looks an event's rules up (an index of RULES), built again when the rules change: a rule
    added to the list, or another list, is run from the next record on, in its place."""
    from datetime import datetime

    from lxml import etree

    ctx = rules.RuleContext(
        kind="F/M", event="Indexed", element=etree.Element("Student"), event_element=None, now=datetime(2026, 1, 1)
    )
    ran: list[str] = []

    def check(code: str, fails: bool):
        def run(_ctx):
            ran.append(code)
            return Violation(code, "the test's rule") if fails else None

        return run

    assert rules.first_violation(ctx) is None  # no rule for this event yet
    monkeypatch.setattr(rules, "RULES", [rules.Rule("S0001", ("fm.Indexed",), "passes", check("S0001", False))])
    assert rules.first_violation(ctx) is None and ran == ["S0001"]
    rules.RULES.append(rules.Rule("S0002", ("fm.Indexed", "j.Indexed"), "fails", check("S0002", True)))
    rules.RULES.append(rules.Rule("S0003", ("fm.Indexed",), "fails too", check("S0003", True)))
    ran.clear()
    found = rules.first_violation(ctx)
    assert found is not None and found.code == "S0002" and ran == ["S0001", "S0002"]  # the first failing one wins


def test_what_rules_read_is_kept_for_one_records_rules_only(monkeypatch) -> None:
    """`text` keeps what it found while one record's rules run (they read the same fields again and again), and
    forgets it when they end: the next record, or the same element changed since, is read again."""
    from datetime import datetime

    from lxml import etree

    element = etree.fromstring("<Student><PersonalInfo><Email>a@example.edu</Email></PersonalInfo></Student>")
    ctx = rules.RuleContext(kind="F/M", event="Memo", element=element, event_element=None, now=datetime(2026, 1, 1))
    seen: list[str | None] = []

    def reads(_ctx):
        seen.append(rules.text(_ctx.element, "PersonalInfo/Email"))
        seen.append(rules.text(_ctx.element, "PersonalInfo/Email"))
        return None

    monkeypatch.setattr(rules, "RULES", [rules.Rule("S0001", ("fm.Memo",), "reads", reads)])
    assert rules.first_violation(ctx) is None
    element.find("PersonalInfo/Email").text = "b@example.edu"
    assert rules.first_violation(ctx) is None
    assert rules.text(element, "PersonalInfo/Email") == "b@example.edu"  # outside the rules: read as it is
    assert seen == ["a@example.edu", "a@example.edu", "b@example.edu", "b@example.edu"]
