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
