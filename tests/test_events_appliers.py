"""The event appliers on lxml elements (no server): blank-tag amending, lookups, refusals, lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xmlschema.validators import XsdElement, XsdGroup
from lxml import etree

from sevis_mock.server.records import lifecycle
from sevis_mock.server.records.amend import merge
from sevis_mock.server.validation import value_types
from sevis_mock.server.records.events import (
    APPLIERS,
    DependentRecord,
    Refused,
    Target,
    action_name,
    apply_event,
    number_tipp,
)

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def el(xml: str) -> etree._Element:
    return etree.fromstring(xml)


def text(doc, path):
    return doc.findtext(path)


# --- every event and sub-action the schemas allow has an applier --------------------------------------------


def schema_sub_actions(xsd: str, root: str, update: str, principal: str) -> set[str]:
    schema = value_types(ROOT / "schemas" / xsd)
    record = schema.elements[root].type.content
    update_el = next(e for e in record.iter_elements() if e.local_name == update)
    person = next(e for e in update_el.type.content.iter_elements() if e.local_name == principal)
    names = set()
    for event in person.type.content.iter_elements():
        if event.local_name in ("UserDefinedA", "UserDefinedB"):
            continue
        choice = _own_choice(event.type.content) if event.type.is_complex() else None
        if choice is None:
            names.add(event.local_name)
        else:
            names |= {f"{event.local_name}/{sub.local_name}" for sub in choice}
    return names


def _own_choice(group) -> list | None:
    """The elements of a choice in the event's own content model (not inside its child elements)."""
    if not isinstance(group, XsdGroup):
        return None
    if group.model == "choice":
        return [e for e in group if isinstance(e, XsdElement)]
    for item in group:
        found = _own_choice(item)
        if found:
            return found
    return None


@pytest.mark.slow
def test_every_update_event_and_sub_action_of_the_schemas_has_an_applier():
    fm = schema_sub_actions(
        "fm-6.55/Create-UpdateStudent.xsd", "SEVISBatchCreateUpdateStudent", "UpdateStudent", "Student"
    )
    j = schema_sub_actions(
        "j-6.27/Create-UpdateExchangeVisitor.xsd", "SEVISBatchCreateUpdateEV", "UpdateEV", "ExchangeVisitor"
    )
    assert len(fm) == 38 and len(j) == 32
    assert {name for kind, name in APPLIERS if kind == "F/M"} == fm
    assert {name for kind, name in APPLIERS if kind == "J"} == j


def test_action_names_say_the_sub_action():
    assert action_name("F/M", el("<Program><Extension/></Program>")) == "Program/Extension"
    assert action_name("F/M", el("<Dependent><UserDefinedA>x</UserDefinedA><Add/></Dependent>")) == "Dependent/Add"
    assert action_name("F/M", el("<Registration><LastSession>true</LastSession></Registration>")) == "Registration"
    assert action_name("J", el("<Status><NoShow/></Status>")) == "Status/NoShow"
    assert action_name("J", el("<Validate><USAddress/></Validate>")) == "Validate"


# --- the blank-tag rule --------------------------------------------------------------------------------------


def test_merge_sets_clears_and_leaves_alone():
    stored = el(
        "<PersonalInfo><FullName><LastName>DOE</LastName><FirstName>JANE</FirstName></FullName>"
        "<BirthDate>2000-01-01</BirthDate><Email>a@example.com</Email><VisaType>01</VisaType></PersonalInfo>"
    )
    merge(
        stored,
        el(
            "<PersonalInfo><FullName><LastName>DOE</LastName><PreferredName>JAY</PreferredName></FullName>"
            "<Gender>F</Gender><Email/></PersonalInfo>"
        ),
    )
    assert text(stored, "FullName/FirstName") == "JANE"  # absent: unchanged
    assert text(stored, "FullName/PreferredName") == "JAY"  # sent: set
    assert stored.find("Email") is None  # empty: cleared
    assert [c.tag for c in stored] == ["FullName", "BirthDate", "Gender", "VisaType"]  # schema order kept
    assert [c.tag for c in stored.find("FullName")] == ["LastName", "FirstName", "PreferredName"]


def test_merge_replaces_an_address_whole_and_drops_emptied_groups():
    stored = el(
        "<Student><USAddress><Address1>1 Main St</Address1><Address2>Apt 4</Address2><PostalCode>02139"
        "</PostalCode></USAddress><FinancialInfo><Expense><Tuition>1</Tuition><Other><Amount>5</Amount>"
        "<Remarks>Books</Remarks></Other></Expense></FinancialInfo></Student>"
    )
    merge(stored, el("<X><USAddress><Address1>9 Elm St</Address1><PostalCode>02140</PostalCode></USAddress></X>"))
    merge(stored.find("FinancialInfo"), el("<F><Expense><Other><Amount/><Remarks/></Other></Expense></F>"))
    assert text(stored, "USAddress/Address1") == "9 Elm St" and stored.find("USAddress/Address2") is None
    assert stored.find("FinancialInfo/Expense/Other") is None
    assert text(stored, "FinancialInfo/Expense/Tuition") == "1"


# --- F/M appliers ---------------------------------------------------------------------------------------------

STUDENT = """<Student><PersonalInfo><FullName><LastName>DOE</LastName><FirstName>JANE</FirstName></FullName>
<BirthDate>2000-01-01</BirthDate><Gender>F</Gender><BirthCountryCode>IN</BirthCountryCode>
<CitizenshipCountryCode>IN</CitizenshipCountryCode><VisaType>01</VisaType></PersonalInfo><IssueReason>I</IssueReason>
<ForeignAddress><Address1>1 Road</Address1><CountryCode>IN</CountryCode></ForeignAddress>
<EducationalInfo><EduLevel><Level>05</Level></EduLevel><MajorCode1>11.0701</MajorCode1><IssDate>2026-11-16</IssDate>
<PrgStartDate>2027-01-11</PrgStartDate><PrgEndDate>2028-12-15</PrgEndDate></EducationalInfo>
<FinancialInfo><AcademicTerm>09</AcademicTerm><Expense><Tuition>100</Tuition><LivingExpense>50</LivingExpense></Expense>
<Funding><Personal>200</Personal></Funding></FinancialInfo></Student>"""


def fm_target(status="Initial", dependents=()):
    return Target(kind="F/M", doc=el(STUDENT), status=status, now=NOW, dependents=list(dependents))


def dep(sevis_id, status="Initial"):
    return DependentRecord(
        sevis_id,
        el("<Dependent><FullName><LastName>DOE</LastName></FullName><Relationship>01</Relationship></Dependent>"),
        status,
    )


def test_registration_activates_the_student_and_initial_dependents_and_keeps_the_session():
    t = fm_target(dependents=[dep("N0000000002"), dep("N0000000003", "Canceled")])
    name = apply_event(
        t,
        el(
            "<Registration printForm='false'><LastSession>false</LastSession><CurrentSessionStartDate>"
            "2027-01-11</CurrentSessionStartDate><CurrentSessionEndDate>2027-05-07"
            "</CurrentSessionEndDate><Email>j@example.edu</Email><USAddress><Address1>1 Elm</Address1>"
            "<PostalCode>02139</PostalCode></USAddress></Registration>"
        ),
    )
    assert name == "Registration" and t.status == "Active"
    assert [d.status for d in t.dependents] == ["Active", "Canceled"]
    assert text(t.doc, "Registration/CurrentSessionEndDate") == "2027-05-07"
    assert text(t.doc, "PersonalInfo/Email") == "j@example.edu" and text(t.doc, "USAddress/Address1") == "1 Elm"


def test_a_later_registration_activates_a_dependent_added_since():
    t = fm_target("Active", [dep("N0000000002", "Initial")])
    apply_event(
        t,
        el(
            "<Registration printForm='false'><LastSession>true</LastSession><CurrentSessionStartDate>"
            "2027-08-23</CurrentSessionStartDate><CurrentSessionEndDate>2027-12-17</CurrentSessionEndDate>"
            "</Registration>"
        ),
    )
    assert t.dependents[0].status == "Active"


@pytest.mark.parametrize(
    "event, status",
    [
        ("<Status><Cancel><Reason>01</Reason></Cancel></Status>", "Canceled"),
        ("<Status><Complete/></Status>", "Completed"),
        ("<Status><Terminate><Reason>02</Reason></Terminate></Status>", "Terminated"),
    ],
)
def test_fm_status_events_end_the_record_and_its_dependents(event, status):
    t = fm_target("Active", [dep("N0000000002", "Active"), dep("N0000000003", "Terminated")])
    apply_event(t, el(event))
    assert t.status == status
    assert [d.status for d in t.dependents] == [status, "Terminated"]
    assert (
        t.doc.find({"Canceled": "Cancellation", "Completed": "Completion", "Terminated": "Termination"}[status]).get(
            "date"
        )
        == "2027-01-20"
    )


def test_employment_periods_are_kept_and_cancel_marks_the_matching_one():
    t = fm_target("Active")
    period = (
        "<StartDate>2027-06-01</StartDate><EndDate>2027-08-13</EndDate><FullPartTimeIndicator>01"
        "</FullPartTimeIndicator><EmployerName>ACME</EmployerName>"
    )
    apply_event(
        t,
        el(
            f"<CPTEmployment><Add printForm='false'>{period}<EmployerAddress><Address1>1 St</Address1>"
            f"<City>C</City><State>MA</State><PostalCode>02139</PostalCode></EmployerAddress></Add>"
            f"</CPTEmployment>"
        ),
    )
    assert t.doc.find("CPTEmployment").get("status") == "Approved"
    with pytest.raises(Refused) as refused:
        apply_event(
            t,
            el(f"<CPTEmployment><Cancel printForm='false'>{period.replace('ACME', 'OTHER')}</Cancel></CPTEmployment>"),
        )
    assert refused.value.violation.code == "S1069"
    apply_event(t, el(f"<CPTEmployment><Cancel printForm='false'>{period}</Cancel></CPTEmployment>"))
    assert t.doc.find("CPTEmployment").get("status") == "Canceled"
    assert text(t.doc, "CPTEmployment/EmployerAddress/City") == "C"


def test_drop_below_edit_renames_its_fields_and_unknown_authorizations_are_refused():
    t = fm_target("Active")
    key = "<Reason>02</Reason><StartDate>2027-02-01</StartDate><EndDate>2027-05-07</EndDate>"
    apply_event(t, el(f"<AuthDropBelowFC><Add printForm='false'>{key}</Add></AuthDropBelowFC>"))
    apply_event(
        t,
        el(
            f"<AuthDropBelowFC><Edit printForm='false'>{key}<NewEndDate>2027-04-30</NewEndDate></Edit>"
            f"</AuthDropBelowFC>"
        ),
    )
    assert text(t.doc, "AuthDropBelowFC/EndDate") == "2027-04-30"
    with pytest.raises(Refused) as refused:
        apply_event(t, el(f"<AuthDropBelowFC><Cancel printForm='false'>{key}</Cancel></AuthDropBelowFC>"))
    assert refused.value.violation.code == "S1070"


def test_education_level_change_can_be_cancelled_back():
    t = fm_target("Active")
    apply_event(
        t,
        el(
            "<EducationLevel><Change printForm='false'><EducationalInfo><EduLevel><Level>06</Level></EduLevel>"
            "<MajorCode1>11.0701</MajorCode1><IssDate>2027-01-20</IssDate><PrgStartDate>2027-08-23"
            "</PrgStartDate><PrgEndDate>2031-05-16</PrgEndDate><EngProficiency><EngRequired>false"
            "</EngRequired></EngProficiency></EducationalInfo><FinancialInfo><AcademicTerm>09</AcademicTerm>"
            "<Expense><Tuition>1</Tuition><LivingExpense>1</LivingExpense></Expense><Funding><Personal>9"
            "</Personal></Funding></FinancialInfo></Change></EducationLevel>"
        ),
    )
    assert text(t.doc, "EducationalInfo/EduLevel/Level") == "06"
    apply_event(t, el("<EducationLevel><Cancel/></EducationLevel>"))
    assert (
        text(t.doc, "EducationalInfo/EduLevel/Level") == "05" and text(t.doc, "FinancialInfo/Expense/Tuition") == "100"
    )
    with pytest.raises(Refused):
        apply_event(t, el("<EducationLevel><Cancel/></EducationLevel>"))


def test_dependent_events_name_their_dependent_or_are_refused():
    t = fm_target("Active", [dep("N0000000002", "Active")])
    with pytest.raises(Refused) as refused:
        apply_event(
            t,
            el(
                "<Dependent><Edit printForm='false' dependentSevisID='N0000000009'><Email>x@y.z</Email>"
                "</Edit></Dependent>"
            ),
        )
    assert refused.value.violation.code == "S1113"
    apply_event(
        t,
        el(
            "<Dependent><Edit printForm='false' dependentSevisID='N0000000002'><FullName><LastName>ROE"
            "</LastName></FullName></Edit></Dependent>"
        ),
    )
    assert text(t.dependents[0].doc, "FullName/LastName") == "ROE" and t.dependents[0].action == "Dependent/Edit"
    apply_event(
        t, el("<Dependent><Terminate dependentSevisID='N0000000002'><Reason>02</Reason></Terminate></Dependent>")
    )
    assert t.dependents[0].status == "Terminated"
    apply_event(t, el("<Dependent><Reactivate printForm='false' dependentSevisID='N0000000002'/></Dependent>"))
    assert t.dependents[0].status == "Active" and t.dependents[0].doc.find("Termination") is None


def test_dependent_add_keeps_the_create_shape_and_echoed_fields():
    t = fm_target("Active")
    apply_event(
        t,
        el(
            "<Dependent><UserDefinedA>KID</UserDefinedA><Add printForm='false'><FullName><LastName>DOE"
            "</LastName></FullName><BirthDate>2026-12-05</BirthDate><Gender>F</Gender><BirthCountryCode>US"
            "</BirthCountryCode><CitizenshipCountryCode>IN</CitizenshipCountryCode><VisaType>04</VisaType>"
            "<Relationship>02</Relationship></Add></Dependent>"
        ),
    )
    (added,) = t.added
    assert added.doc.tag == "Dependent" and added.status == "Initial" and added.user_defined_a == "KID"
    assert [c.tag for c in added.doc][-2:] == ["Relationship", "UserDefinedA"]


# --- J appliers -------------------------------------------------------------------------------------------------

VISITOR = f"""<ExchangeVisitor xmlns:xsi="{XSI}"><Biographical><FullName><LastName>DOE</LastName></FullName>
<BirthDate>1990-01-01</BirthDate></Biographical><PositionCode>214</PositionCode><PrgStartDate>2027-02-01</PrgStartDate>
<PrgEndDate>2028-01-31</PrgEndDate><CategoryCode>08</CategoryCode><AddSiteOfActivity>
<SiteOfActivity xsi:type="SOA" siteId="S1"><Address1>1 A St</Address1><PostalCode>20522</PostalCode><SiteName>Main</SiteName><PrimarySite>true</PrimarySite></SiteOfActivity>
<SiteOfActivity xsi:type="SOA" siteId="S2"><Address1>2 B St</Address1><PostalCode>20522</PostalCode><SiteName>Lab</SiteName><PrimarySite>false</PrimarySite></SiteOfActivity>
<SiteOfActivity xsi:type="SOA" siteId="S3"><Address1>3 C St</Address1><PostalCode>20522</PostalCode><SiteName>Lab</SiteName><PrimarySite>false</PrimarySite></SiteOfActivity>
</AddSiteOfActivity></ExchangeVisitor>"""


def j_target(status="Initial", dependents=(), doc=VISITOR):
    ids = iter(f"NEW{n}" for n in range(1, 10))
    return Target(
        kind="J", doc=el(doc), status=status, now=NOW, dependents=list(dependents), next_site_id=lambda: next(ids)
    )


def test_sites_are_found_by_id_or_unique_name():
    t = j_target("Active")
    for event, code in [
        ("<Delete><SiteName>Lab</SiteName></Delete>", "S2202"),
        ("<Delete><SiteName>Nowhere</SiteName></Delete>", "S2129"),
        ("<Delete><SiteId>S1</SiteId></Delete>", "S2203"),
    ]:
        with pytest.raises(Refused) as refused:
            apply_event(t, el(f"<SiteOfActivity>{event}</SiteOfActivity>"))
        assert refused.value.violation.code == code
    apply_event(t, el("<SiteOfActivity><Delete><SiteId>S2</SiteId></Delete></SiteOfActivity>"))
    apply_event(
        t,
        el(
            "<SiteOfActivity><Edit printForm='false'><Address1>4 D St</Address1><PostalCode>20001</PostalCode>"
            "<SiteName>Lab</SiteName><NewSiteName>New Lab</NewSiteName></Edit></SiteOfActivity>"
        ),
    )
    assert [s.get("siteId") for s in t.doc.iterfind("AddSiteOfActivity/SiteOfActivity")] == ["S1", "S3"]
    edited = t.doc.find("AddSiteOfActivity/SiteOfActivity[@siteId='S3']")
    assert text(edited, "SiteName") == "New Lab" and text(edited, "Address1") == "4 D St"
    assert [c.tag for c in edited][:2] == ["Address1", "PostalCode"]


def test_site_add_stores_the_create_site_type_with_a_new_id():
    t = j_target("Active")
    apply_event(
        t, el(f"<SiteOfActivity><Add xmlns:xsi='{XSI}' xsi:type='AddSEEKINGEMP' printForm='false'/></SiteOfActivity>")
    )
    added = t.doc.findall("AddSiteOfActivity/SiteOfActivity")[-1]
    assert added.get(f"{{{XSI}}}type") == "SEEKINGEMP" and added.get("siteId") == "NEW1"
    assert t.sites == [added]


def test_j_statuses_and_dependents_follow_including_reinstatement():
    t = j_target("Initial", [dep("N0000000002"), dep("N0000000003")])
    apply_event(
        t, el("<Validate><USAddress><Address1>1 K St</Address1><PostalCode>20006</PostalCode></USAddress></Validate>")
    )
    assert t.status == "Active" and {d.status for d in t.dependents} == {"Active"}
    apply_event(
        t, el("<Dependent><EndStatus dependentSevisID='N0000000003'><Reason>02</Reason></EndStatus></Dependent>")
    )
    apply_event(
        t, el("<Status><Terminate><Reason>OTHER</Reason><EffectiveDate>2027-01-20</EffectiveDate></Terminate></Status>")
    )
    assert t.status == "Terminated" and [d.status for d in t.dependents] == ["Terminated", "Inactive"]
    apply_event(
        t,
        el(
            "<Status><CorrectInfraction><InfractionType>OTH</InfractionType><NewEndDate>2028-03-31"
            "</NewEndDate></CorrectInfraction></Status>"
        ),
    )
    assert t.status == "Active" and [d.status for d in t.dependents] == ["Active", "Inactive"]
    assert text(t.doc, "PrgEndDate") == "2028-03-31"


def test_a_dependent_terminated_on_its_own_stays_terminated_when_the_principal_is_reinstated():
    own = dep("N0000000002", "Terminated")
    own.followed_last = False  # its last history entry is its own Dependent/Terminate
    went_along = dep("N0000000003", "Active")
    t = j_target("Active", [own, went_along])
    apply_event(
        t, el("<Status><Terminate><Reason>OTHER</Reason><EffectiveDate>2027-01-20</EffectiveDate></Terminate></Status>")
    )
    assert [d.status for d in t.dependents] == ["Terminated", "Terminated"]
    went_along.followed_last = True  # the processor reads this from the dependent's history
    apply_event(
        t,
        el(
            "<Status><CorrectInfraction><InfractionType>OTH</InfractionType><NewEndDate>2028-03-31"
            "</NewEndDate></CorrectInfraction></Status>"
        ),
    )
    assert t.status == "Active" and [d.status for d in t.dependents] == ["Terminated", "Active"]


@pytest.mark.parametrize(
    "event, status", [("<Invalid><Remarks>x</Remarks></Invalid>", "Invalid"), ("<NoShow/>", "No Show")]
)
def test_j_initial_records_can_end_invalid_or_no_show(event, status):
    t = j_target("Initial", [dep("N0000000002")])
    apply_event(t, el(f"<Status>{event}</Status>"))
    assert t.status == status and t.dependents[0].status == status
    assert status in lifecycle.J_STATUSES


TIPP = """<ExchangeVisitor><PrgStartDate>2027-03-01</PrgStartDate><PrgEndDate>2028-02-28</PrgEndDate><AddTIPP>
<ParticipantInfo><EmailAddress>a@b.c</EmailAddress></ParticipantInfo>
<TippSite><Address1>1 St</Address1><SiteName>One</SiteName><TippPhase><PhaseName>P</PhaseName><StartDate>2027-03-01</StartDate>
<EndDate>2028-02-28</EndDate><SuperPhone>6175550142</SuperPhone></TippPhase></TippSite></AddTIPP></ExchangeVisitor>"""


def test_tipp_sites_and_phases_are_numbered_and_found_by_id():
    doc = el(TIPP)
    number_tipp(doc)
    t = j_target("Initial", doc=etree.tostring(doc).decode())
    assert text(t.doc, "AddTIPP/TippSite/SiteId") == "1" and text(t.doc, "AddTIPP/TippSite/TippPhase/PhaseId") == "2"
    with pytest.raises(Refused) as refused:
        apply_event(t, el("<TIPP><DeletePhase><PhaseId>2</PhaseId></DeletePhase></TIPP>"))
    assert refused.value.violation.code == "S2275"
    with pytest.raises(Refused) as refused:
        apply_event(t, el("<TIPP><DeletePhase><PhaseId>7</PhaseId></DeletePhase></TIPP>"))
    assert refused.value.violation.code == "S2272"
    apply_event(
        t,
        el(
            "<Program><Extension printForm='false'><NewPrgEndDate>2028-05-31</NewPrgEndDate><TippPhaseDates>"
            "<TippPhase><PhaseId>2</PhaseId><StartDate>2027-03-01</StartDate><EndDate>2028-05-31</EndDate>"
            "</TippPhase></TippPhaseDates></Extension></Program>"
        ),
    )
    assert text(t.doc, "AddTIPP/TippSite/TippPhase/EndDate") == "2028-05-31"
    apply_event(
        t,
        el(
            "<TIPP><UpdateSignatureDates><TippSite><SiteId>1</SiteId><EvSignatureDate>2027-01-20"
            "</EvSignatureDate><Supervisors><TippPhase><PhaseId>2</PhaseId><SignatureDate>2027-01-19"
            "</SignatureDate></TippPhase></Supervisors></TippSite></UpdateSignatureDates></TIPP>"
        ),
    )
    phase = t.doc.find("AddTIPP/TippSite/TippPhase")
    assert text(phase, "SuperSignatureDate") == "2027-01-19"
    assert [c.tag for c in phase][-1] == "SuperSignatureDate"  # right after SuperPhone, as the schema orders it
    assert text(t.doc, "AddTIPP/TippSite/EvSignatureDate") == "2027-01-20"


def test_tipp_events_need_a_plan():
    t = j_target("Initial")
    with pytest.raises(Refused) as refused:
        apply_event(t, el("<TIPP><DeleteSite><SiteId>1</SiteId></DeleteSite></TIPP>"))
    assert refused.value.violation.code == "S2219"


# --- the blank-tag rule as a property ---------------------------------------------------------------------------

FIELDS = ("BirthCity", "Email", "Commuter", "VisaType")
values = st.one_of(st.none(), st.just(""), st.text(alphabet="ABCXYZ", min_size=1, max_size=4))


@given(
    stored=st.fixed_dictionaries(
        {f: st.one_of(st.none(), st.text(alphabet="abc", min_size=1, max_size=3)) for f in FIELDS}
    ),
    sent=st.fixed_dictionaries({f: values for f in FIELDS}),
)
def test_blank_tag_rule_holds_for_any_mix_of_sent_empty_and_absent(stored, sent):
    doc = etree.Element("PersonalInfo")
    for tag in FIELDS:
        if stored[tag] is not None:
            etree.SubElement(doc, tag).text = stored[tag]
    update = etree.Element("PersonalInfo")
    for tag in FIELDS:
        if sent[tag] is not None:
            etree.SubElement(update, tag).text = sent[tag] or None
    merge(doc, update)
    for tag in FIELDS:
        expected = stored[tag] if sent[tag] is None else (sent[tag] or None)
        assert doc.findtext(tag) == expected
    assert [c.tag for c in doc] == [t for t in FIELDS if doc.find(t) is not None]
