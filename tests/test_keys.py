"""The keys that say two records are the same person (rules/keys.py): the duplicate checks of both kinds and a
principal's dependents read the same five facts, each from where its document keeps them."""

from __future__ import annotations

from lxml import etree

from sevis_mock.server.rules.keys import dependent_key, duplicate_key, duplicate_key_for

PERSON = (
    "<FullName><LastName> Doe </LastName><FirstName>jane</FirstName></FullName>"
    "<BirthDate>2001-02-03</BirthDate><BirthCountryCode>CA</BirthCountryCode><Gender>F</Gender>"
)
KEY = ("DOE", "JANE", "2001-02-03", "CA", "F")


def test_a_student_an_exchange_visitor_and_a_dependent_have_the_same_key_for_the_same_person():
    student = etree.fromstring(f"<Student><PersonalInfo>{PERSON}</PersonalInfo></Student>")
    visitor = etree.fromstring(f"<ExchangeVisitor><Biographical>{PERSON}</Biographical></ExchangeVisitor>")
    dependent = etree.fromstring(f"<Dependent><Add><Person>{PERSON}</Person></Add></Dependent>")
    assert duplicate_key(student) == duplicate_key_for("F/M", student) == KEY
    assert duplicate_key_for("J", visitor) == KEY
    assert dependent_key(dependent) == KEY


def test_a_missing_fact_is_empty_and_a_student_key_is_not_read_from_a_visitors_place():
    visitor = etree.fromstring(f"<ExchangeVisitor><Biographical>{PERSON}</Biographical></ExchangeVisitor>")
    assert duplicate_key_for("F/M", visitor) == ("", "", "", "", "")
    assert duplicate_key_for("J", etree.fromstring("<ExchangeVisitor/>")) == ("", "", "", "", "")
