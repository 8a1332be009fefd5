"""Organization profiles (a school's Form I-17 facts, a sponsor's designation) through the control API and
the pytest plugin, and the rules that read them, against a real server over mutual TLS."""

from __future__ import annotations

import pytest

from sevis_mock.harness.pytest_plugin import MockControlError
from sevis_mock.server.profiles import ProfileError, defaults, merged, validate


def test_seeded_organizations_start_with_the_defaults(sevis_mock):
    school, sponsor = sevis_mock.org("F/M"), sevis_mock.org("J")
    assert sevis_mock.profile(school.org_id) == defaults("F/M")
    assert sevis_mock.profile(sponsor.org_id) == defaults("J")


def test_a_change_names_only_the_keys_it_changes_and_delete_restores_the_defaults(sevis_mock):
    sponsor = sevis_mock.org("J").org_id
    changed = sevis_mock.set_profile(sponsor, korea_west=True, categories=["2A", "08"])
    assert changed["korea_west"] is True and changed["categories"] == ["2A", "08"] and changed["active"] is True
    assert sevis_mock.set_profile(sponsor, active=False)["categories"] == ["2A", "08"]  # earlier keys kept
    assert sevis_mock.reset_profile(sponsor) == defaults("J")
    assert sevis_mock.profile(sponsor) == defaults("J")


@pytest.mark.parametrize(
    "kind,body,says",
    [
        ("F/M", {"visa_types": ["J"]}, '"F" and/or "M"'),
        ("F/M", {"korea_west": True}, "not a settable part of a school's I-17"),
        ("F/M", {"programs_of_study": ["computer science"]}, "CIP major codes such as 11.0701"),
        ("J", {"categories": ["99"]}, "EV category (SEVIS table 15) codes"),
        ("J", {"form_allotment": -1}, "whole number from 0"),
        ("J", {"form_allotment_base": 5}, "not a settable part"),
        ("J", {"active": "yes"}, "true or false"),
    ],
)
def test_a_wrong_value_is_refused_with_what_to_send(sevis_mock, kind, body, says):
    org = sevis_mock.org(kind).org_id
    with pytest.raises(MockControlError) as err:
        sevis_mock.control("POST", f"orgs/{org}/profile", json=body)
    assert "HTTP 400" in str(err.value) and says in str(err.value)
    assert sevis_mock.profile(org) == defaults(kind)  # nothing half-applied


def test_unknown_organization_is_404(sevis_mock):
    with pytest.raises(MockControlError, match="HTTP 404"):
        sevis_mock.profile("ZZZ214F99999999")


def test_seed_takes_a_profile(sevis_mock):
    made = sevis_mock.control("POST", "seed", json={"kind": "F/M", "profile": {"english_language_school": True}})
    assert made["profile"]["english_language_school"] is True
    assert sevis_mock.profile(made["org_id"])["english_language_school"] is True
    with pytest.raises(MockControlError, match="HTTP 400"):
        sevis_mock.control("POST", "seed", json={"kind": "J", "profile": {"visa_types": ["F"]}})


def test_profile_functions_keep_stored_keys_and_refuse_unknown_ones():
    assert merged("J", '{"active": false, "stray": 1}')["active"] is False
    assert "stray" not in merged("J", '{"active": false, "stray": 1}')
    assert merged("F/M", "not json") == defaults("F/M")
    with pytest.raises(ProfileError):
        validate("J", ["active"])
