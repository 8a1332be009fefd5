"""A stateful model of the whole fifteen-step procedure (PROTOCOL §7), every step done right or wrong.

:func:`procedure_machine` returns a Hypothesis ``RuleBasedStateMachine`` bound to a running mock (a
:class:`Target` read from its connection.json). Its rules are the college's actions -- register an
account, set passwords (fresh, used or expired links, weak passwords), log in (right or wrong
password), fill and submit Form I-17 (F / FM / M, 1-3 campuses, 1-4 officials, with or without a
missing field), contact the Response Center, SEVP approves or rejects or sends a new link, the PDSO
registers a certificate (valid, expired, not yet valid, no clientAuth, a private key, another org's),
uploads (a valid create, a business-rule failure, a schema-generated document, a single-fault mutant,
malformed XML; with its own, another org's or an unregistered certificate; a re-used batch ID),
downloads, processing and 45 days of mock time -- in whatever order Hypothesis draws. A ``progress``
rule (about 2/3 of the steps until a college's batch is processed) performs the next step of the
procedure for the oldest college still in it, so that walks reach batch uploads; it records the
concrete action it chose. Users, orgs and certificates are chosen by small numbers resolved against the
model's state (see ``_user``), so a walk is plain data that replays.

:class:`Model` says what SEVIS should answer to each action in each state (HTTP status or SEVIS
code); the machine asserts the mock's answer equals it, and after every step checks: the outbox holds
exactly the model's e-mails (none lost, none extra); the records held per organization equal what the
model's accepted and processed batches created (a refused upload creates nothing); each petition's
state and Response Center tickets in SEVP's JSON API equal the model, and the SEVP console page agrees
with the JSON; every transaction log validates against the TransLog XSD. ``process-now`` must process
exactly the batches the model has queued (each accepted upload is processed once; every walk ends by
processing what is still queued), and a processed batch downloads the same results every time. The ``review`` rule compares the RTI pages (Batches,
Records) with the RTI JSON lists.

The J path runs beside it (an exchange-visitor sponsor: register with the designation purpose, Form
DS-3036 with or without its Responsible Officer, its site or with a category the program type may not
use, the help desk, the Department of State designating or rejecting it, the RO and AROs activating,
an ARO registering the certificate, EV batches, and uploads to a program number before designation);
the progress rule advances the F/M college or the sponsor, as drawn, and the DS-3036s in the Department
of State's JSON API must equal the model's after every step.

Every action is recorded as ``(name, arguments)`` of plain data in ``machine.trace``; :func:`replay`
runs such a list again (with the invariants after each step), which is how ``rehearse --explore`` writes
a failing walk as a script.

Start the mock with a long processing delay (the machine processes with ``POST /control/process-now``),
e.g. ``--processing-delay 86400``: [i] batches then never become due by themselves, except across a
45-day clock jump, before which the machine processes everything.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import requests
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from lxml import etree
from lxml import html as lhtml

from .lifecycle import letters

CLOCK = datetime(
    2027, 1, 20, 9, 0, 0
)  # [i] the mock clock at the start of every walk (as sevis_mock.harness.lifecycle)
HOUR, DAY = 3600.0, 86400.0
LINK_LIFETIME = 72 * HOUR  # API.md: Set Password links expire after 72 mock hours
TOKEN_LIFETIME = 24 * HOUR  # bearer tokens last 24 mock hours
LOCK_TIME = 30 * 60.0  # the 5th failed login in a row locks the user for 30 mock minutes
MAX_FAILED = 5
INACTIVE_AFTER = 45 * DAY  # PROTOCOL §2: no RTI login for 45 days -> inactive (S0003)
ADVANCE = 45 * DAY + HOUR  # "let 45 days pass": a little more, so the rule applies for certain
MAX_ADVANCES = 3  # [i] keeps the mock clock before the fixtures' program dates
STRONG_PASSWORD = "Rehearse#2027a"
WEAK_PASSWORD = "password"
UNKNOWN_ORG = "ZZZ214F99999000"
UNKNOWN_PROGRAM = "P-1-99999"  # [i] what a sponsor might send before the Department of State designates it
PROGRAM_NUMBER = re.compile(r"^P-[134]-\d{5}$")
FORBIDDEN = ("P-1", "13")  # a DS-3036 fault: Au Pairs (13) are not for an academic (P-1) program [i]
FORBIDDEN_TEXT = (
    "categories: 13 (Au Pair) is not for a P-1 program: Au Pairs are sponsored by private-sector programs (P-3)"
)
SCHOOL_CODE = re.compile(r"^[A-Z]{3}214F\d{8}$")
SEEDED_ORG = "MCK214F00001000"
VALID_CERTS = ("c0", "c1", "c2", "c3", "c4", "c5")
BAD_CERTS = ("expired", "not-yet-valid", "server-auth-only", "private-key")
DOCS = ("good", "good", "rule-failure", "generated", "mutant", "malformed")
CERT_CHOICES = ("own", "own", "other-org", "unregistered")
PROGRESS_WEIGHT = 40  # copies of the progress rule among 20 others: about 2/3 of the steps advance the procedure


class ProcedureMismatch(AssertionError):
    """The mock answered otherwise than SEVIS should."""


# --- where the mock is ------------------------------------------------------------------------------------


@dataclass
class Target:
    base_url: str
    ca_cert: str
    rti_url: str
    sevp_url: str
    sevp_user: str
    sevp_password: str
    outbox_url: str
    control_url: str
    control_token: str
    seeded: dict  # the seeded F/M school: org_id, user_id, client_cert, client_key
    dos_url: str = ""  # the Department of State's designation console (same operator credentials)

    @classmethod
    def from_connection(cls, info: dict, environment: str = "beta") -> "Target":
        seeded = next(o for o in info["organizations"] if o["kind"] == "F/M")
        return cls(
            base_url=info["base_url"].rstrip("/"),
            ca_cert=info["ca_cert"],
            rti_url=info["rti"][environment].rstrip("/"),
            sevp_url=info["sevp"]["url"].rstrip("/"),
            sevp_user=info["sevp"]["user"],
            sevp_password=info["sevp"]["password"],
            outbox_url=info["outbox"].rstrip("/"),
            control_url=info["control"]["url"].rstrip("/"),
            control_token=info["control"]["token"],
            seeded=seeded,
            dos_url=(info.get("dos") or {}).get("url", info["base_url"].rstrip("/") + "/dos").rstrip("/"),
        )

    @property
    def ca_dir(self) -> Path:
        return Path(self.ca_cert).parent


# --- certificates --------------------------------------------------------------------------------------------


@dataclass
class PoolCert:
    name: str
    cert_path: str
    key_path: str
    pem: str
    fingerprint: str

    @property
    def pair(self) -> tuple[str, str]:
        return (self.cert_path, self.key_path)


def issue_pool(ca_dir: Path, out: Path, seeded: dict) -> dict[str, PoolCert]:
    """Client certificates from the mock's CA: six valid ones (on the real and the mock clock), one expired
    and one not yet valid on the mock clock, one without clientAuth; the seeded school's own; and a
    private key (uploaded by mistake)."""
    from cryptography import x509

    from sevis_mock.server.tls import CertificateAuthority, fingerprint

    ca = CertificateAuthority.load_or_create(Path(ca_dir))
    now = datetime.now(UTC)
    clock = CLOCK.replace(tzinfo=UTC)
    valid = (min(now, clock) - timedelta(days=2), max(now, clock + timedelta(days=200)) + timedelta(days=30))
    plans = {name: dict(not_before=valid[0], not_after=valid[1]) for name in VALID_CERTS}
    plans["expired"] = dict(not_before=clock - timedelta(days=400), not_after=clock - timedelta(days=1))
    plans["not-yet-valid"] = dict(not_before=clock + timedelta(days=400), not_after=clock + timedelta(days=800))
    plans["server-auth-only"] = dict(not_before=valid[0], not_after=valid[1], client_auth=False)
    out.mkdir(parents=True, exist_ok=True)
    pool = {}
    for n, (name, plan) in enumerate(plans.items()):
        issued = ca.issue_client(out, org_id=f"PM{n:013d}", user_id=f"PMUSER{n:04d}", **plan)
        pool[name] = PoolCert(
            name,
            str(issued.cert_path),
            str(issued.key_path),
            issued.cert_path.read_text(),
            fingerprint(issued.certificate),
        )
    pem = Path(seeded["client_cert"]).read_text()
    pool["seeded"] = PoolCert(
        "seeded",
        seeded["client_cert"],
        seeded["client_key"],
        pem,
        fingerprint(x509.load_pem_x509_certificate(pem.encode())),
    )
    key = Path(pool["c0"].key_path).read_text()
    pool["private-key"] = PoolCert("private-key", "", "", key, "")
    return pool


# --- HTTP -----------------------------------------------------------------------------------------------------


class Driver:
    """The calls the college (and SEVP) make, over real TLS."""

    def __init__(self, target: Target, translog_schema: etree.XMLSchema) -> None:
        self.t = target
        self.schema = translog_schema
        self.http = self._session(None)
        self._tls: dict[tuple[str, str], requests.Session] = {}
        self.control_http = self._session((target.seeded["client_cert"], target.seeded["client_key"]))
        self.control_http.headers["Authorization"] = f"Bearer {target.control_token}"

    def _session(self, cert) -> requests.Session:
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
        s.verify = self.t.ca_cert
        s.cert = cert
        return s

    def close(self) -> None:
        for s in [self.http, self.control_http, *self._tls.values()]:
            s.close()

    def call(self, method: str, url: str, body: Any = None, token: str | None = None, params=None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = self.http.request(method, url, json=body, params=params, headers=headers, timeout=60)
        try:
            data = r.json()
        except ValueError:
            data = None
        return r.status_code, data

    def control(self, method: str, path: str, body: Any = None, params=None) -> Any:
        r = self.control_http.request(method, f"{self.t.control_url}/{path}", json=body, params=params, timeout=120)
        if r.status_code >= 400:
            raise RuntimeError(f"control API {method} {path}: HTTP {r.status_code}: {r.text[:300]}")
        return r.json()

    def _cert_session(self, pair: tuple[str, str]) -> requests.Session:
        if pair not in self._tls:
            self._tls[pair] = self._session(pair)
        return self._tls[pair]

    def valid_log(self, xml: bytes) -> etree._Element:
        doc = etree.fromstring(xml)
        if not self.schema.validate(doc.getroottree()):
            raise ProcedureMismatch(
                f"transaction log invalid against the TransLog XSD: {self.schema.error_log}\n"
                f"{xml.decode(errors='replace')[:3000]}"
            )
        return doc

    def upload(self, pair, org_id: str, user_id: str, batch_id: str, xml: bytes) -> tuple[str, str]:
        r = self._cert_session(pair).post(
            f"{self.t.base_url}/sbtsevisbatch/action/batchUpload",
            data={"orgid": org_id, "userid": user_id, "batchid": batch_id},
            files={"xml": ("batch.xml", xml, "text/xml")},
            timeout=120,
        )
        if r.status_code != 200:
            raise ProcedureMismatch(f"batchUpload answered HTTP {r.status_code}, not 200: {r.text[:300]}")
        log = self.valid_log(r.content)
        return log.find("BatchDetail/Upload").get("resultCode"), r.headers.get("X-Sevis-Mock-Detail", "")

    def download(self, pair, org_id: str, user_id: str, batch_id: str) -> tuple[str, etree._Element, str]:
        import io
        import zipfile

        r = self._cert_session(pair).get(
            f"{self.t.base_url}/sbtsevisbatch/action/batchDownload",
            params={"orgid": org_id, "userid": user_id, "batchid": batch_id},
            timeout=120,
        )
        if r.status_code != 200 or not r.headers.get("Content-Type", "").startswith("application/zip"):
            raise ProcedureMismatch(f"batchDownload answered HTTP {r.status_code} {r.headers.get('Content-Type')}")
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            log = self.valid_log(zf.read("sevis_transaction_log.xml"))
        return log.find("BatchDetail/Download").get("resultCode"), log, r.headers.get("X-Sevis-Mock-Detail", "")

    def page_session(self, login_url: str, fields: dict) -> tuple[requests.Session, int]:
        """A cookie session logged in through the HTML form (with its CSRF token)."""
        s = self._session(None)
        page = s.get(login_url, timeout=60)
        token = lhtml.fromstring(page.content).xpath("//input[@name='csrf_token']/@value")
        r = s.post(
            login_url, data={**fields, "csrf_token": token[0] if token else ""}, allow_redirects=False, timeout=60
        )
        return s, r.status_code


# --- the model ------------------------------------------------------------------------------------------------


@dataclass
class Link:
    issued: float
    used: bool = False
    token: str | None = None


@dataclass
class User:
    label: str
    email: str
    role: str  # TEMP, PDSO or DSO (F/M); TEMP-EV, RO or ARO (J)
    user_id: str | None = None
    org_id: str | None = None
    links: list[Link] = field(default_factory=list)
    password: str | None = None
    failed: int = 0
    locked_until: float | None = None
    token: str | None = None
    token_at: float = 0.0
    last_login: float | None = None
    batch_registered: bool = False
    has_account: bool = True

    @property
    def official(self) -> bool:
        return self.role not in ("TEMP", "TEMP-EV")

    @property
    def sponsor(self) -> bool:
        return self.role in ("TEMP-EV", "RO", "ARO")


@dataclass
class Petition:
    owner: User
    name: str
    pid: int
    state: str = "draft"
    body: dict = field(default_factory=dict)
    missing: set = field(default_factory=set)
    refused: bool = False  # a submission was refused for what is missing
    tickets: int = 0
    codes: list[str] = field(default_factory=list)


@dataclass
class Designation:
    """A Form DS-3036 (J): the model's copy."""

    owner: User
    name: str
    did: int
    state: str = "draft"
    body: dict = field(default_factory=dict)
    missing: set = field(default_factory=set)
    invalid: set = field(default_factory=set)
    refused: bool = False
    tickets: int = 0
    program: str | None = None


@dataclass
class Org:
    org_id: str
    registered: bool = False


@dataclass
class Batch:
    org_id: str
    batch_id: str
    user: User
    cert: str
    kind: str  # good, rule-failure, generated
    principals: int
    creates: set
    processed: bool = False
    results: tuple | None = None
    created: int = 0


class Model:
    def __init__(self) -> None:
        self.now = 0.0  # mock seconds since CLOCK
        self.users: list[User] = []
        self.petitions: list[Petition] = []
        self.designations: list[Designation] = []
        self.sponsors = 0
        self.orgs: dict[str, Org] = {}
        self.certs: dict[str, tuple[str, str]] = {}  # pool name -> (org_id, user_id) registered
        self.batches: list[Batch] = []
        self.used_ids: set[tuple[str, str]] = set()
        self.emails: Counter = Counter()  # (to, kind)
        self.records: Counter = Counter()  # org_id -> records created
        self.advances = 0
        self.counter = 0
        self.colleges = 0

    def fresh(self) -> int:
        self.counter += 1
        return self.counter

    def token_ok(self, user: User) -> bool:
        return user.token is not None and self.now < user.token_at + TOKEN_LIFETIME

    def latest_petition(self, user: User) -> Petition | None:
        mine = [p for p in self.petitions if p.owner is user]
        return mine[-1] if mine else None

    def latest_designation(self, user: User) -> Designation | None:
        mine = [d for d in self.designations if d.owner is user]
        return mine[-1] if mine else None

    def identity_code(self, org_id: str, user: User, cert: str) -> str | None:
        """The S0002/S0003 refusal SEVIS gives (None: security checks pass), in the mock's check order [i]."""
        refusal = self.identity_refusal(org_id, user, cert)
        return refusal[0] if refusal else None

    def identity_refusal(self, org_id: str, user: User, cert: str) -> tuple[str, str] | None:
        """(code, why) of the S0002/S0003 refusal, or None."""
        org = self.orgs.get(org_id)
        if org is None or not org.registered:
            return "S0002", "org not registered for batch"
        registration = self.certs.get(cert)
        if registration is None:
            return "S0002", "certificate registered nowhere"
        if registration[0] != org_id:
            return "S0002", "certificate of another org"
        if not user.official or user.org_id != org_id or not user.batch_registered:
            return "S0003", "user not a batch official of the org"
        if registration[1] != user.user_id:
            return "S0003", "certificate of another user"
        if user.last_login is None or self.now - user.last_login > INACTIVE_AFTER:
            return "S0003", "user inactive 45 days"
        return None

    def visible_orgs(self, user: User) -> set[str]:
        if user.org_id is None:
            return set()
        if user.org_id.endswith("000"):
            return {o for o in self.orgs if o[:12] == user.org_id[:12]}
        return {user.org_id}


# --- documents --------------------------------------------------------------------------------------------------


class Documents:
    """Batch documents for the uploads, each addressed to the org, user and batch ID of the upload."""

    def __init__(self) -> None:
        from sevis_mock.fixtures import read_fixture
        from sevis_mock.schemas import schema_for_root

        self.xsd = schema_for_root("SEVISBatchCreateUpdateStudent")
        self.schema = etree.XMLSchema(etree.parse(str(self.xsd)))
        self.good_base = etree.fromstring(read_fixture("fm/create-with-dependent.xml"))
        self.rule_base = etree.fromstring(read_fixture("fm/rule-S1009-program-end-before-start.xml"))
        self.j_good_base = etree.fromstring(read_fixture("j/create-with-dependent-and-site.xml"))
        self.j_rule_base = etree.fromstring(read_fixture("j/rule-S2282-program-end-before-start.xml"))
        self._mutations = None

    @staticmethod
    def _address(root: etree._Element, org_id: str, user_id: str, batch_id: str) -> etree._Element:
        root.find("BatchHeader/BatchID").text = batch_id
        root.find("BatchHeader/OrgID").text = org_id
        root.set("userID", user_id)
        for student in root.iter("Student", "ExchangeVisitor"):
            student.set("userID", user_id)
            if student.get("printForm") is not None:
                student.set("printForm", "false")
        return root

    @staticmethod
    def _rename(root: etree._Element, suffix: str) -> None:
        for last in root.iter("LastName"):
            last.text = f"{last.text} {suffix}"[:40]

    def good(self, org_id, user_id, batch_id, n: int, today: date) -> bytes:
        root = self._address(copy.deepcopy(self.good_base), org_id, user_id, batch_id)
        self._rename(root, letters(n + 700))
        start = today + timedelta(days=30)
        for el in root.iter("PrgStartDate"):
            el.text = start.isoformat()
        for el in root.iter("PrgEndDate"):
            el.text = (start + timedelta(days=700)).isoformat()
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def j_good(self, org_id, user_id, batch_id, n: int) -> bytes:
        """An EV create (a scholar with a spouse and a site of activity; 2030 program dates)."""
        root = self._address(copy.deepcopy(self.j_good_base), org_id, user_id, batch_id)
        self._rename(root, letters(n + 700))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def j_rule_failure(self, org_id, user_id, batch_id, n: int) -> bytes:
        """Two EV creates: JVR-0001 correct, JVR-0002 ending before it starts (S2282)."""
        root = self._address(copy.deepcopy(self.j_rule_base), org_id, user_id, batch_id)
        self._rename(root, letters(n + 700))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def rule_failure(self, org_id, user_id, batch_id, n: int) -> bytes:
        root = self._address(copy.deepcopy(self.rule_base), org_id, user_id, batch_id)
        self._rename(root, letters(n + 700))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def generated(self, tree: etree._ElementTree, org_id, user_id, batch_id) -> tuple[bytes, int, set]:
        root = copy.deepcopy(tree.getroot() if hasattr(tree, "getroot") else tree)
        self._address(root, org_id, user_id, batch_id)
        creates, principals = set(), 0
        for n, student in enumerate(root.iter("Student")):
            student.set("requestID", f"G{n}")
            principals += 1
            if student.getparent().tag == "CreateStudent":
                creates.add(f"G{n}")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), principals, creates

    def mutations(self) -> list:
        """Single faults of the good document that libxml2 also rejects (computed once)."""
        if self._mutations is None:
            from sevis_mock.harness.mutants import mutations

            template = self.good(SEEDED_ORG, "MCKPDSO001", "PM000000000000", 0, CLOCK.date())
            tree = etree.fromstring(template).getroottree()
            kept = []
            for m in mutations(str(self.xsd), tree):
                broken = m.apply(copy.deepcopy(tree))
                if broken is not None and not self.schema.validate(broken[0]):
                    kept.append(m)
            self._mutations = kept
        return self._mutations

    def mutant(self, k: int, org_id, user_id, batch_id, n: int, today: date) -> tuple[bytes, str]:
        """(document, expected code): S0012 when the fault breaks the header's BatchID/OrgID, else S0013."""
        chosen = self.mutations()[k % len(self.mutations())]
        tree = etree.fromstring(self.good(org_id, user_id, batch_id, n, today)).getroottree()
        broken, _ = chosen.apply(tree)
        root = broken.getroot()
        header_batch, header_org = root.findtext("BatchHeader/BatchID"), root.findtext("BatchHeader/OrgID")
        mismatch = (header_batch is not None and header_batch.strip() != batch_id) or (
            header_org is not None and header_org.strip() != org_id
        )
        return etree.tostring(broken, xml_declaration=True, encoding="UTF-8"), "S0012" if mismatch else "S0013"


def generated_documents():
    """Strategy of F/M documents valid against the project's schema (small ones: each upload stays cheap)."""
    from sevis_mock.harness.strategies import trees
    from sevis_mock.schemas import schema_for_root

    return trees(
        schema_for_root("SEVISBatchCreateUpdateStudent"),
        "SEVISBatchCreateUpdateStudent",
        max_repeats=1,
        max_elements=60,
        max_text=12,
    )


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise ProcedureMismatch(message)


# --- the machine ---------------------------------------------------------------------------------------------------


class ProcedureMachine(RuleBasedStateMachine):
    """Bound to a target by :func:`procedure_machine`; see the module docstring."""

    driver: Driver
    pool: dict[str, PoolCert]
    documents: Documents
    stats: Counter
    last: list  # [the newest machine], read after a failure
    failing: list  # [the first machine whose step or invariant failed]: Hypothesis may replay a walk after
    # its failure, and a replay that passes (a timing-dependent failure) must not stand in for it
    processing_owned: bool = True  # False: the server may process batches before process-now

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.trace: list[tuple[str, dict]] = []
        self.pages_seen: dict[int, str] = {}
        self.dos_pages_seen: dict[int, str] = {}
        self._dos_pages: requests.Session | None = None
        self.failed = False  # a step or an invariant failed: the walk ends without finish()
        self._sevp_token: str | None = None
        self._sevp_token_at = 0.0
        self._dos_token: str | None = None
        self._dos_token_at = 0.0
        self._sevp_pages: requests.Session | None = None
        type(self).last[:] = [self]
        d = self.driver
        d.control("POST", "clock", {"now": CLOCK.isoformat()})
        d.control("POST", "reset", {"keep_clock": True})  # seeded officials logged in at CLOCK
        seeded = User(
            "seeded PDSO",
            "",
            "PDSO",
            user_id=d.t.seeded["user_id"],
            org_id=d.t.seeded["org_id"],
            last_login=0.0,
            batch_registered=True,
            has_account=False,
        )
        self.model.users.append(seeded)
        self.model.orgs[seeded.org_id] = Org(seeded.org_id, registered=True)
        self.model.certs["seeded"] = (seeded.org_id, seeded.user_id)

    # --- plumbing ------------------------------------------------------------------------------------------------
    def do(self, name: str, args: dict | None = None, **more) -> None:
        """Perform one recorded action (the unit of a replayed walk)."""
        args = {**(args or {}), **more}
        self.trace.append((name, args))
        try:
            getattr(self, f"act_{name}")(**args)
        except BaseException:
            self._failed()
            raise

    def finish(self) -> None:
        """The end of a walk: every accepted upload is processed, exactly once (then the invariants)."""
        if any(not b.processed for b in self.model.batches):
            self.do("process_now")
            self.check_all()

    def _seen(self, action: str, outcome) -> None:
        self.stats[(action, str(outcome))] += 1

    def _answer(self, action: str, got: int, want: int, body) -> None:
        self._seen(action, got)
        detail = body.get("error") if isinstance(body, dict) else body
        expect(got == want, f"{action}: the mock answered HTTP {got} ({detail}); SEVIS should answer {want}")

    def _user(self, n: int, relevance: Callable[[User], tuple] | None = None) -> User:
        """Who acts. ``n`` >= 100: the (n-100)-th user created (the progress rule names users so). Else, with
        the users ranked by ``relevance`` (those the action suits first): 0-3 the most relevant one, which
        keeps random walks deep in the procedure; 4-7 any. Deterministic in the model's state: walks replay."""
        m = self.model
        if n >= 100:
            return m.users[(n - 100) % len(m.users)]
        ranked = sorted(m.users, key=relevance) if relevance else list(m.users)
        return ranked[0] if n < 4 else ranked[(n - 4) % len(ranked)]

    def _ref(self, user: User) -> int:
        """The number that makes _user choose ``user``."""
        return 100 + self.model.users.index(user)

    @property
    def now_date(self) -> date:
        return (CLOCK + timedelta(seconds=self.model.now)).date()

    # --- steps 1-4: account ------------------------------------------------------------------------------------
    def act_register_account(self) -> None:
        m = self.model
        m.colleges += 1
        email = f"college{m.colleges}@rehearsal.example.edu"
        status, body = self.driver.call(
            "POST",
            f"{self.driver.t.rti_url}/api/accounts",
            {
                "first_name": "Pat",
                "last_name": f"Tester {letters(m.colleges)}",
                "email": email,
                "phone": "703-555-0100",
                "purpose": "certification",
            },
        )
        self._answer("register_account", status, 201, body)
        user_id = body.get("temporary_user_id") or ""
        expect(len(user_id) == 10, f"temporary user ID {user_id!r} is not 10 characters")
        m.users.append(User(f"college {m.colleges}", email, "TEMP", user_id=user_id, links=[Link(m.now)]))
        m.emails[(email, "temporary-user-id")] += 1
        m.emails[(email, "set-password")] += 1

    def _sync_links(self, messages: list[dict] | None = None) -> None:
        if messages is None:
            messages = self._outbox()
        for user in self.model.users:
            mine = [msg for msg in messages if msg["kind"] == "set-password" and msg["user_id"] == user.user_id]
            for link, msg in zip(user.links, mine):
                if link.token is None:
                    found = [u for u in msg.get("links") or [] if "/set-password/" in u]
                    link.token = found[0].rsplit("/set-password/", 1)[1] if found else None

    def act_set_password(self, user: int, newest: bool, strong: bool) -> None:
        # newest link: those still without a password first; oldest link (often used already): those with one
        u, m = self._user(user, lambda u: ((u.password is not None) == newest, not u.links)), self.model
        self._sync_links()
        password = STRONG_PASSWORD if strong else WEAK_PASSWORD
        if not u.links:
            status, body = self.driver.call(
                "POST",
                f"{self.driver.t.rti_url}/api/set-password",
                {"token": "never-issued-link-token", "password": password},
            )
            return self._answer("set_password unknown link", status, 404, body)
        link = u.links[-1 if newest else 0]
        status, body = self.driver.call(
            "POST", f"{self.driver.t.rti_url}/api/set-password", {"token": link.token, "password": password}
        )
        if link.used:
            return self._answer("set_password used link", status, 410, body)
        if m.now >= link.issued + LINK_LIFETIME:
            return self._answer("set_password expired link", status, 410, body)
        if not strong:
            self._answer("set_password weak", status, 400, body)
            return expect(body.get("invalid"), "a weak password's refusal lists no rule broken")
        self._answer("set_password", status, 200, body)
        expect(body.get("user_id") == u.user_id, f"Set Password answered for {body.get('user_id')}, not {u.user_id}")
        link.used, u.password, u.failed, u.locked_until = True, password, 0, None
        for other in u.links:  # a new password ends every other link and every token of the account
            other.used = True
        u.token = None

    def act_login(self, user: int, right: bool) -> None:
        u, m = self._user(user, lambda u: (u.password is None, self.model.token_ok(u))), self.model
        password = (u.password or STRONG_PASSWORD) if right else "Wrong#Pass99"
        status, body = self.driver.call(
            "POST", f"{self.driver.t.rti_url}/api/login", {"user_id": u.user_id, "password": password}
        )
        want = self._login_outcome(u, right)
        self._answer(f"login ({'right' if right else 'wrong'} password)", status, want, body)
        if status == 200:
            expect((body.get("user") or {}).get("user_id") == u.user_id, "login answered for another user")
            u.token, u.token_at = body.get("token"), m.now

    def _login_outcome(self, u: User, right: bool) -> int:
        """The status SEVIS answers a login, applying its effects to the model."""
        m = self.model
        if not u.has_account:
            return 401
        if u.locked_until is not None:
            if m.now < u.locked_until:
                return 429
            u.locked_until, u.failed = None, 0
        if u.password is None:
            return 401
        if not right:
            u.failed += 1
            if u.failed >= MAX_FAILED:
                u.locked_until = m.now + LOCK_TIME
                return 429
            return 401
        u.failed, u.last_login = 0, m.now
        return 200

    # --- steps 5-8: Form I-17, Response Center ------------------------------------------------------------------
    def _i17(self, p: Petition, category: str, campuses: int, officials: int, fault: str) -> tuple[dict, set]:
        tag = p.name.split()[0].lower()
        body_campuses = [
            {
                "name": "Main" if i == 0 else f"Campus {letters(i)}",
                "main": i == 0,
                "address": {
                    "address1": f"{100 + i} College Road",
                    "address2": "",
                    "city": "Fairfax",
                    "state": "VA",
                    "zip": "22030",
                },
            }
            for i in range(campuses)
        ]
        body_officials = [
            {
                "role": "PDSO" if j < campuses else "DSO",
                "first_name": "Alex",
                "last_name": f"Official {letters(j)}",
                "email": f"o{j}.p{p.pid}.{tag}@school.example.edu",
                "campus": j if j < campuses else 0,
            }
            for j in range(officials)
        ]
        school_name = p.name
        missing = set()
        if fault == "no-school-name":
            school_name = ""
            missing.add("school_name")
        if fault == "no-zip":
            body_campuses[-1]["address"]["zip"] = ""
            missing.add(f"campuses[{campuses - 1}].address.zip")
        if fault == "no-pdso":
            body_officials[0]["role"] = "DSO"
        for i, c in enumerate(body_campuses):
            if not any(o["role"] == "PDSO" and o["campus"] == i for o in body_officials):
                missing.add(
                    "officials: a PDSO for the main campus"
                    if i == 0
                    else f"officials: a PDSO for campus {i} ({c['name']})"
                )
        return {
            "school_name": school_name,
            "category": category,
            "campuses": body_campuses,
            "officials": body_officials,
        }, missing

    def act_fill_i17(self, owner: int, category: str, campuses: int, officials: int, fault: str, revise: bool) -> None:
        u, m, d = self._user(owner, lambda u: (u.role != "TEMP", not self.model.token_ok(u))), self.model, self.driver
        p = m.latest_petition(u)
        if p is not None and p.state != "draft" and revise:
            status, body = d.call("PUT", f"{d.t.rti_url}/api/petitions/{p.pid}", {"school_name": p.name}, token=u.token)
            want = 401 if not m.token_ok(u) else 409
            return self._answer(f"fill_i17 of a {p.state} petition", status, want, body)
        draft = p if p is not None and p.state == "draft" else Petition(u, "", 0)
        if draft.pid == 0:
            draft.name = f"{letters(m.fresh() + 30)} Rehearsal College"
        body, missing = self._i17(draft, category, campuses, officials, fault)
        if draft.pid:
            status, reply = d.call("PUT", f"{d.t.rti_url}/api/petitions/{draft.pid}", body, token=u.token)
        else:
            status, reply = d.call("POST", f"{d.t.rti_url}/api/petitions", body, token=u.token)
        if not m.token_ok(u):
            return self._answer("fill_i17 without login", status, 401, reply)
        if u.official or u.sponsor:
            return self._answer("fill_i17 by an official or a sponsor", status, 403, reply)
        self._answer("fill_i17", status, 200 if draft.pid else 201, reply)
        expect(reply.get("state") == "draft", f"an I-17 being filled is {reply.get('state')}, not draft")
        if not draft.pid:
            draft.pid = reply["petition_id"]
            m.petitions.append(draft)
        draft.body, draft.missing = body, missing

    def act_submit_i17(self, owner: int) -> None:
        u, m, d = self._user(owner, lambda u: (u.role != "TEMP", not self.model.token_ok(u))), self.model, self.driver
        p = m.latest_petition(u)
        pid = p.pid if p else 999999
        status, body = d.call("POST", f"{d.t.rti_url}/api/petitions/{pid}/submit", token=u.token)
        if not m.token_ok(u):
            return self._answer("submit_i17 without login", status, 401, body)
        if p is None:
            return self._answer("submit_i17 of no petition", status, 404, body)
        if p.state != "draft":
            return self._answer(f"submit_i17 of a {p.state} petition", status, 409, body)
        if p.missing:
            self._answer("submit_i17 incomplete", status, 400, body)
            p.refused = True
            got = set(body.get("missing") or [])
            return expect(
                got == p.missing, f"submit refused naming missing {sorted(got)}; SEVIS should name {sorted(p.missing)}"
            )
        self._answer("submit_i17", status, 200, body)
        p.state = "submitted"

    def act_response_center(self, petition: int, wrong_category: bool, unknown_name: bool) -> None:
        m, d = self.model, self.driver
        p = m.petitions[petition % len(m.petitions)] if m.petitions else None
        name = "Nowhere Rehearsal College" if (unknown_name or p is None) else p.name
        category = (p.body.get("category") if p else "F") or "F"
        if wrong_category:
            category = {"F": "M", "M": "FM", "FM": "F"}[category]
        status, body = d.call(
            "POST",
            f"{d.t.rti_url}/api/response-center",
            {
                "organization_name": name,
                "contact_name": "Pat Tester",
                "email": "contact@rehearsal.example.edu",
                "phone": "703-555-0100",
                "school_category": category,
                "school_name": name,
            },
        )
        matched = p is not None and not unknown_name and p.state in ("submitted", "approved")
        if not matched:
            return self._answer("response_center: no submitted I-17 of that name", status, 400, body)
        if wrong_category:
            return self._answer("response_center: wrong category", status, 400, body)
        self._answer("response_center", status, 201, body)
        expect(body.get("petition_id") == p.pid, f"ticket linked to I-17 {body.get('petition_id')}, not {p.pid}")
        p.tickets += 1

    # --- steps 9-10: SEVP --------------------------------------------------------------------------------------
    def _sevp(self) -> str:
        m, d = self.model, self.driver
        if self._sevp_token is None or m.now >= self._sevp_token_at + TOKEN_LIFETIME:
            status, body = d.call(
                "POST", f"{d.t.sevp_url}/api/login", {"user": d.t.sevp_user, "password": d.t.sevp_password}
            )
            expect(status == 200, f"SEVP console login answered {status}")
            self._sevp_token, self._sevp_token_at = body["token"], m.now
        return self._sevp_token

    def act_sevp_decide(self, petition: int, approve: bool) -> None:
        m, d = self.model, self.driver
        if not m.petitions:
            return
        p = m.petitions[petition % len(m.petitions)]
        verb = "approve" if approve else "reject"
        status, body = d.call(
            "POST",
            f"{d.t.sevp_url}/api/petitions/{p.pid}/{verb}",
            None if approve else {"reason": "The rehearsal rejects this I-17"},
            token=self._sevp(),
        )
        if p.state != "submitted":
            return self._answer(f"SEVP {verb} a {p.state} petition", status, 409, body)
        self._answer(f"SEVP {verb}", status, 200, body)
        p.state = "approved" if approve else "rejected"
        m.emails[(p.owner.email, p.state)] += 1
        if approve:
            self._approved(p, body)

    def _approved(self, p: Petition, reply: dict) -> None:
        m = self.model
        campuses = reply.get("campuses") or []
        expect(
            len(campuses) == len(p.body["campuses"]),
            f"approval lists {len(campuses)} campuses, the I-17 {len(p.body['campuses'])}",
        )
        main = reply.get("school_code") or ""
        expect(SCHOOL_CODE.match(main) and main.endswith("000"), f"school code {main!r} is not AAA214F########000")
        for k, c in enumerate(campuses):
            expect(c["school_code"] == f"{main[:12]}{k:03d}", f"campus {k} code {c['school_code']}, main {main}")
            p.codes.append(c["school_code"])
            m.orgs[c["school_code"]] = Org(c["school_code"])
        officials = reply.get("officials") or []
        expect(len(officials) == len(p.body["officials"]), "approval lists another number of officials")
        for o, wanted in zip(officials, p.body["officials"]):
            expect(
                o["email"] == wanted["email"]
                and o["role"] == wanted["role"]
                and o["campus_code"] == p.codes[wanted["campus"]],
                f"approved official {o} differs from the I-17's {wanted}",
            )
            m.users.append(
                User(
                    f"{wanted['role']} {o['user_id']}",
                    o["email"],
                    o["role"],
                    user_id=o["user_id"],
                    org_id=o["campus_code"],
                    links=[Link(m.now)],
                )
            )
            m.emails[(o["email"], "set-password")] += 1

    def act_sevp_new_link(self, user: int) -> None:
        u, m, d = self._user(user, lambda u: (not u.official, u.password is not None)), self.model, self.driver
        status, body = d.call("POST", f"{d.t.sevp_url}/api/accounts/{u.user_id}/password-link", token=self._sevp())
        self._answer("SEVP sends a new Set Password link", status, 200, body)
        if not u.has_account:  # a seeded official gets an RTI account in beta
            u.has_account, u.email = True, body.get("email") or ""
        expect(body.get("email") == u.email, f"new link e-mailed to {body.get('email')}, not {u.email}")
        u.links.append(Link(m.now))
        m.emails[(u.email, "set-password")] += 1

    # --- the J path: designation account, Form DS-3036, help desk, the Department of State -------------------
    def act_register_sponsor_account(self) -> None:
        m = self.model
        m.sponsors += 1
        email = f"sponsor{m.sponsors}@rehearsal.example.org"
        status, body = self.driver.call(
            "POST",
            f"{self.driver.t.rti_url}/api/accounts",
            {
                "first_name": "Rosa",
                "last_name": f"Sponsor {letters(m.sponsors)}",
                "email": email,
                "phone": "202-555-0100",
                "purpose": "designation",
            },
        )
        self._answer("register_sponsor_account", status, 201, body)
        user_id = body.get("temporary_user_id") or ""
        expect(len(user_id) == 10, f"temporary user ID {user_id!r} is not 10 characters")
        m.users.append(User(f"sponsor {m.sponsors}", email, "TEMP-EV", user_id=user_id, links=[Link(m.now)]))
        m.emails[(email, "temporary-user-id")] += 1
        m.emails[(email, "set-password")] += 1

    def _ds3036(self, d: Designation, program_type: str, fault: str) -> tuple[dict, set, set]:
        tag = d.name.split()[0].lower()
        categories = ["08", "09", "2A"]  # what the EV documents use (S2163 otherwise)
        officials = [
            {
                "role": "RO",
                "first_name": "Rory",
                "last_name": "Officer",
                "email": f"ro.d{d.did}.{tag}@sponsor.example.org",
            },
            {
                "role": "ARO",
                "first_name": "Ari",
                "last_name": "Alternate",
                "email": f"aro.d{d.did}.{tag}@sponsor.example.org",
            },
        ]
        sites = [
            {
                "name": "Headquarters",
                "address": {
                    "address1": "2201 C Street NW",
                    "address2": "",
                    "city": "Washington",
                    "state": "DC",
                    "zip": "20520",
                },
            }
        ]
        missing, invalid = set(), set()
        if fault == "forbidden-category":  # a category the program type may not use [i]
            program_type = FORBIDDEN[0]
            categories = [*categories, FORBIDDEN[1]]
            invalid.add(FORBIDDEN_TEXT)
        if fault == "no-ro":
            officials = officials[1:]
            missing.add("officials: a Responsible Officer (RO)")
        if fault == "no-site":
            sites = []
            missing.add("sites: at least the program's main site")
        body = {
            "sponsor_name": d.name,
            "program_type": program_type,
            "categories": categories,
            "officials": officials,
            "sites": sites,
        }
        return body, missing, invalid

    def act_fill_ds3036(self, owner: int, program_type: str, fault: str, revise: bool) -> None:
        u, m, dr = (
            self._user(owner, lambda u: (u.role != "TEMP-EV", not self.model.token_ok(u))),
            self.model,
            self.driver,
        )
        d = m.latest_designation(u)
        if d is not None and d.state != "draft" and revise:
            status, body = dr.call(
                "PUT", f"{dr.t.rti_url}/api/designations/{d.did}", {"sponsor_name": d.name}, token=u.token
            )
            want = 401 if not m.token_ok(u) else 409
            return self._answer(f"fill_ds3036 of a {d.state} DS-3036", status, want, body)
        draft = d if d is not None and d.state == "draft" else Designation(u, "", 0)
        if draft.did == 0:
            draft.name = f"{letters(m.fresh() + 30)} Rehearsal Exchange"
        body, missing, invalid = self._ds3036(draft, program_type, fault)
        if draft.did:
            status, reply = dr.call("PUT", f"{dr.t.rti_url}/api/designations/{draft.did}", body, token=u.token)
        else:
            status, reply = dr.call("POST", f"{dr.t.rti_url}/api/designations", body, token=u.token)
        if not m.token_ok(u):
            return self._answer("fill_ds3036 without login", status, 401, reply)
        if u.role != "TEMP-EV":
            return self._answer("fill_ds3036 by someone not a sponsor's temporary user", status, 403, reply)
        self._answer("fill_ds3036", status, 200 if draft.did else 201, reply)
        expect(reply.get("state") == "draft", f"a DS-3036 being filled is {reply.get('state')}, not draft")
        if not draft.did:
            draft.did = reply["designation_id"]
            m.designations.append(draft)
        draft.body, draft.missing, draft.invalid = body, missing, invalid

    def act_submit_ds3036(self, owner: int) -> None:
        u, m, dr = (
            self._user(owner, lambda u: (u.role != "TEMP-EV", not self.model.token_ok(u))),
            self.model,
            self.driver,
        )
        d = m.latest_designation(u)
        did = d.did if d else 999999
        status, body = dr.call("POST", f"{dr.t.rti_url}/api/designations/{did}/submit", token=u.token)
        if not m.token_ok(u):
            return self._answer("submit_ds3036 without login", status, 401, body)
        if d is None:
            return self._answer("submit_ds3036 of no DS-3036", status, 404, body)
        if d.state != "draft":
            return self._answer(f"submit_ds3036 of a {d.state} DS-3036", status, 409, body)
        if d.missing or d.invalid:
            label = "with a category the program may not use" if d.invalid else "incomplete"
            self._answer(f"submit_ds3036 {label}", status, 400, body)
            d.refused = True
            got = (set(body.get("missing") or []), set(body.get("invalid") or []))
            return expect(
                got == (d.missing, d.invalid),
                f"submit refused naming missing/invalid {got}; SEVIS should name {(d.missing, d.invalid)}",
            )
        self._answer("submit_ds3036", status, 200, body)
        d.state = "submitted"

    def act_help_desk(self, designation: int, unknown_name: bool) -> None:
        m, dr = self.model, self.driver
        d = m.designations[designation % len(m.designations)] if m.designations else None
        name = "Nowhere Rehearsal Exchange" if (unknown_name or d is None) else d.name
        status, body = dr.call(
            "POST",
            f"{dr.t.rti_url}/api/help-desk",
            {
                "organization_name": name,
                "contact_name": "Rosa Sponsor",
                "email": "contact@rehearsal.example.org",
                "phone": "202-555-0100",
                "sponsor_name": name,
            },
        )
        if d is None or unknown_name or d.state not in ("submitted", "designated"):
            return self._answer("help_desk: no submitted DS-3036 of that name", status, 400, body)
        self._answer("help_desk", status, 201, body)
        expect(
            body.get("designation_id") == d.did, f"ticket linked to DS-3036 {body.get('designation_id')}, not {d.did}"
        )
        d.tickets += 1

    def _dos(self) -> str:
        m, dr = self.model, self.driver
        if self._dos_token is None or m.now >= self._dos_token_at + TOKEN_LIFETIME:
            status, body = dr.call(
                "POST", f"{dr.t.dos_url}/api/login", {"user": dr.t.sevp_user, "password": dr.t.sevp_password}
            )
            expect(status == 200, f"Department of State console login answered {status}")
            self._dos_token, self._dos_token_at = body["token"], m.now
        return self._dos_token

    def act_dos_decide(self, designation: int, designate: bool) -> None:
        m, dr = self.model, self.driver
        if not m.designations:
            return
        d = m.designations[designation % len(m.designations)]
        verb = "designate" if designate else "reject"
        status, body = dr.call(
            "POST",
            f"{dr.t.dos_url}/api/designations/{d.did}/{verb}",
            None if designate else {"reason": "The rehearsal rejects this DS-3036"},
            token=self._dos(),
        )
        if d.state != "submitted":
            return self._answer(f"DoS {verb} a {d.state} DS-3036", status, 409, body)
        self._answer(f"DoS {verb}", status, 200, body)
        d.state = "designated" if designate else "rejected"
        m.emails[(d.owner.email, d.state)] += 1
        if designate:
            self._designated(d, body)

    def _designated(self, d: Designation, reply: dict) -> None:
        m = self.model
        number = reply.get("program_number") or ""
        expect(
            PROGRAM_NUMBER.match(number) and number.startswith(d.body["program_type"] + "-"),
            f"program number {number!r} is not {d.body['program_type']}- and five digits",
        )
        expect(
            reply.get("categories") == d.body["categories"],
            f"designated categories {reply.get('categories')}, the DS-3036 asked for {d.body['categories']}",
        )
        d.program = number
        m.orgs[number] = Org(number)
        officials = reply.get("officials") or []
        expect(len(officials) == len(d.body["officials"]), "the designation lists another number of officials")
        for o, wanted in zip(officials, d.body["officials"]):
            expect(
                o["email"] == wanted["email"] and o["role"] == wanted["role"] and o["program_number"] == number,
                f"designated official {o} differs from the DS-3036's {wanted}",
            )
            m.users.append(
                User(
                    f"{wanted['role']} {o['user_id']}",
                    o["email"],
                    o["role"],
                    user_id=o["user_id"],
                    org_id=number,
                    links=[Link(m.now)],
                )
            )
            m.emails[(o["email"], "set-password")] += 1

    # --- step 11: batch registration ----------------------------------------------------------------------------
    def _org_choice(self, n: int, user: User | None = None) -> str:
        """0-3: the user's own organization (half the draws); else every known code and one SEVIS does not know."""
        if n < 4 and user is not None and user.org_id is not None:
            return user.org_id
        codes = [*self.model.orgs, UNKNOWN_ORG, UNKNOWN_PROGRAM]
        return codes[n % len(codes)]

    def act_register_batch(self, user: int, org: int, cert: str, agree: bool) -> None:
        u, m, d = (
            self._user(user, lambda u: (u.role not in ("PDSO", "RO"), not self.model.token_ok(u), u.batch_registered)),
            self.model,
            self.driver,
        )
        org_id = self._org_choice(org, u)
        status, body = d.call(
            "POST",
            f"{d.t.rti_url}/api/batch-registration",
            {"org_id": org_id, "certificate": self.pool[cert].pem, "accept_agreement": agree},
            token=u.token,
        )
        action = f"register_batch ({cert}{'' if agree else ', agreement refused'})"
        if not m.token_ok(u):
            return self._answer(action + " without login", status, 401, body)
        if org_id not in m.orgs:
            return self._answer(action + " for an unknown org", status, 404, body)
        if not u.official or u.org_id != org_id or u.role not in ("PDSO", "RO"):
            who = "an ARO, not its RO [i]" if u.role == "ARO" and u.org_id == org_id else "someone not its PDSO or RO"
            return self._answer(f"{action} by {who}", status, 403, body)
        if cert in BAD_CERTS:
            self._answer(action, status, 400, body)
            return expect(
                body.get("field") == "certificate", f"the refusal names {body.get('field')!r}, not the certificate"
            )
        if not agree:
            return self._answer(action, status, 400, body)
        held = m.certs.get(cert)
        if held is not None and held != (org_id, u.user_id):
            return self._answer(action + " of another org's certificate", status, 409, body)
        self._answer(action, status, 200, body)
        expect(body.get("fingerprint") == self.pool[cert].fingerprint, "registration reports another fingerprint")
        m.certs[cert] = (org_id, u.user_id)
        m.orgs[org_id].registered = True
        u.batch_registered = True
        m.emails[(u.email, "batch-registered")] += 1

    # --- steps 12-15: batches ----------------------------------------------------------------------------------
    def _presented(self, org_id: str, user: User, choice: str) -> str:
        """The certificate shown for an upload: own (registered to this org and user), another org's, or
        one registered nowhere; falls back in that order when there is none."""
        certs = self.model.certs
        own = [c for c, held in certs.items() if held == (org_id, user.user_id)]
        other = [c for c, held in certs.items() if held[0] != org_id]
        free = [c for c in VALID_CERTS if c not in certs]
        order = {"own": [own, other, free], "other-org": [other, free], "unregistered": [free, other]}[choice]
        return next(options[0] for options in order if options) if any(order) else "seeded"

    def act_upload(
        self, user: int, org: int, cert: str, doc: str, reuse: bool, variant: int, generated: str | None = None
    ) -> None:
        m, d = self.model, self.driver
        u = self._user(user, lambda u: (not u.batch_registered, u.user_id is None))
        org_id = self._org_choice(org, u)
        presented = self._presented(org_id, u, cert)
        earlier = [b.batch_id for b in m.batches if b.org_id == org_id]
        batch_id = earlier[variant % len(earlier)] if (reuse and earlier) else f"PM{m.fresh():012d}"
        n = m.fresh()
        principals, creates, doc_code = 0, set(), "S0000"
        kind = doc
        if PROGRAM_NUMBER.match(org_id) and doc != "malformed":  # a sponsor's program takes EV batches
            if doc == "good":
                xml, principals, creates, kind = (
                    self.documents.j_good(org_id, u.user_id, batch_id, n),
                    1,
                    {"JDEP-0001"},
                    "j-good",
                )
            elif doc == "rule-failure":
                xml, principals, kind = (
                    self.documents.j_rule_failure(org_id, u.user_id, batch_id, n),
                    2,
                    "j-rule-failure",
                )
                creates = {"JVR-0001", "JVR-0002"}
            else:  # a school's (F/M) batch sent to a program: the whole file is rejected
                xml, doc_code, kind = (
                    self.documents.good(org_id, u.user_id, batch_id, n, self.now_date),
                    "S0013",
                    "fm-to-j",
                )
        elif doc == "good":
            xml, principals, creates = (
                self.documents.good(org_id, u.user_id, batch_id, n, self.now_date),
                1,
                {"FMDEP-0001"},
            )
        elif doc == "rule-failure":
            xml, principals = self.documents.rule_failure(org_id, u.user_id, batch_id, n), 2
            creates = {"S1009-0001", "S1009-0002"}
        elif doc == "generated":
            tree = etree.fromstring(generated.encode())
            xml, principals, creates = self.documents.generated(tree, org_id, u.user_id, batch_id)
            if not self.documents.schema.validate(etree.fromstring(xml).getroottree()):
                doc_code = "S0013"  # [i] addressing may break a generated document (e.g. a fixed value)
        elif doc == "mutant":
            xml, doc_code = self.documents.mutant(variant, org_id, u.user_id, batch_id, n, self.now_date)
        else:
            xml, doc_code = b"<?xml version='1.0'?><SEVISBatchCreateUpdateStudent><BatchHeader>", "S0012"
        refusal = m.identity_refusal(org_id, u, presented)
        if refusal and org_id == UNKNOWN_PROGRAM:
            refusal = ("S0002", "upload to a program number before designation")
        want = (refusal and refusal[0]) or ("S0010" if (org_id, batch_id) in m.used_ids else None) or doc_code
        code, detail = d.upload(self.pool[presented].pair, org_id, u.user_id, batch_id, xml)
        self._seen(f"upload {kind}", code)
        if refusal:
            self._seen(f"upload refused: {refusal[1]}", code)
        expect(
            code == want,
            f"upload of a {doc} batch {batch_id} to {org_id} by {u.label} with certificate "
            f"{presented} ({'registered to ' + str(m.certs[presented]) if presented in m.certs else 'unregistered'}) "
            f"answered {code} ({detail}); SEVIS should answer {want}",
        )
        if code == "S0000":
            m.used_ids.add((org_id, batch_id))
            m.batches.append(Batch(org_id, batch_id, u, presented, kind, principals, creates))

    def act_download(self, batch: int, never_sent: bool) -> None:
        m, d = self.model, self.driver
        if never_sent or not m.batches:
            seeded = m.users[0]
            b = Batch(seeded.org_id, f"PN{m.fresh():012d}", seeded, "seeded", "none", 0, set())
        else:
            b = m.batches[batch % len(m.batches)]
        code, log, detail = d.download(self.pool[b.cert].pair, b.org_id, b.user.user_id, b.batch_id)
        want = m.identity_code(b.org_id, b.user, b.cert) or (
            "S0031" if b.kind == "none" else "S0030" if not b.processed else "S0000"
        )
        self._seen("download", code)
        if want == "S0030" and code == "S0000" and not self.processing_owned:
            return self._processed(b, log)  # a server with its own processing delay got there first
        expect(
            code == want,
            f"download of {b.batch_id} ({b.org_id}) answered {code} ({detail}); SEVIS should answer {want}",
        )
        if code == "S0000":
            results = self._results(b, log)
            expect(
                results == b.results,
                f"{b.batch_id}: a second download gives other results ({results} after {b.results}): processed twice?",
            )

    def _results(self, b: Batch, log: etree._Element) -> tuple:
        process = log.find("BatchDetail/Process")
        expect(process is not None, f"the log of processed batch {b.batch_id} has no Process part")
        counts = process.find("RecordCount")
        records = process.findall("Record")
        if counts is None:  # the TransLog XSD makes the count optional: only a batch with no records may leave it out
            expect(
                b.principals == 0 and not records,
                f"{b.batch_id}: no RecordCount in the log of a batch of "
                f"{b.principals} principals ({len(records)} Records)",
            )
            expect(
                process.get("resultCode") == "S0000",
                f"{b.batch_id}: an empty batch processed with {process.get('resultCode')}",
            )
            return ()
        success, failure, total = (int(counts.findtext(k)) for k in ("Success", "Failure", "Total"))
        expect(
            total == b.principals == len(records) and success + failure == total,
            f"{b.batch_id}: RecordCount {success}/{failure}/{total} and {len(records)} Records for "
            f"{b.principals} principals sent",
        )
        expect(
            process.get("resultCode") == ("S0000" if failure == 0 else "S0020"),
            f"{b.batch_id}: process {process.get('resultCode')} with {failure} failures",
        )
        outcome = tuple(
            sorted(
                (r.get("requestID"), r.find("Result").get("status"), r.findtext("Result/ErrorCode")) for r in records
            )
        )
        if b.kind in ("good", "j-good"):
            expect(failure == 0, f"{b.batch_id}: a valid create failed: {outcome}")
        if b.kind == "j-rule-failure":
            expect(
                dict((r, (s, c)) for r, s, c in outcome)
                == {"JVR-0001": ("true", None), "JVR-0002": ("false", "S2282")},
                f"{b.batch_id}: the S2282 batch gave {outcome}",
            )
        if b.kind == "rule-failure":
            expect(
                dict((r, (s, c)) for r, s, c in outcome)
                == {"S1009-0001": ("true", None), "S1009-0002": ("false", "S1009")},
                f"{b.batch_id}: the S1009 batch gave {outcome}",
            )
        return outcome

    def act_process_now(self) -> None:
        m, d = self.model, self.driver
        queued = [b for b in m.batches if not b.processed]
        processed = d.control("POST", "process-now")["processed"]
        if self.processing_owned:
            expect(processed == len(queued), f"process-now processed {processed} batches; {len(queued)} were queued")
        else:
            expect(processed <= len(queued), f"process-now processed {processed} batches; only {len(queued)} queued")
        for b in queued:
            code, log, detail = d.download(self.pool[b.cert].pair, b.org_id, b.user.user_id, b.batch_id)
            expect(code == "S0000", f"download of processed {b.batch_id} answered {code} ({detail})")
            self._processed(b, log)

    def _processed(self, b: Batch, log: etree._Element) -> None:
        b.results, b.processed = self._results(b, log), True
        b.created = sum(1 for r, status, _ in b.results if status == "true" and r in b.creates)
        self.model.records[b.org_id] += b.created
        self._seen(f"process {b.kind}", log.find("BatchDetail/Process").get("resultCode"))

    def act_advance_clock(self) -> None:
        m = self.model
        self.act_process_now()  # what is queued is processed on the day it was sent
        self.driver.control("POST", "clock", {"advance_seconds": ADVANCE})
        m.now += ADVANCE
        m.advances += 1

    def act_review(self, user: int) -> None:
        """An official logs in to RTI (JSON and page) and reads Batches and Records both ways."""
        officials = [u for u in self.model.users if u.official and u.password]
        if not officials:
            return
        u, m, d = officials[user % len(officials)], self.model, self.driver
        self.act_login(self._ref(u), True)
        if not m.token_ok(u):
            return
        pages, _ = self._page_login(u)
        try:
            visible = m.visible_orgs(u)
            status, body = d.call("GET", f"{d.t.rti_url}/api/batches", token=u.token)
            expect(status == 200, f"RTI batches answered {status}")
            listed = sorted(
                (b["batch_id"], b["org_id"], b["state"], b.get("process_code") or "") for b in body["batches"]
            )
            expected = sorted((b.batch_id, b.org_id) for b in m.batches if b.org_id in visible)
            expect([x[:2] for x in listed] == expected, f"RTI batches {listed}; model {expected}")
            rows = self._table(pages, f"{d.t.rti_url}/batches", "batches")
            shown = sorted((r[0], r[1], r[4], r[5]) for r in rows)
            expect(shown == listed, f"the Batches page shows {shown}; the JSON API {listed}")
            status, body = d.call("GET", f"{d.t.rti_url}/api/records", token=u.token)
            expect(status == 200, f"RTI records answered {status}")
            records = sorted((r["sevis_id"], r["status"]) for r in body["records"])
            expect(
                len(records) == sum(m.records[o] for o in visible),
                f"RTI lists {len(records)} records for {sorted(visible)}; the model {dict(m.records)}",
            )
            shown = sorted((r[0], r[2]) for r in self._table(pages, f"{d.t.rti_url}/records", "records"))
            expect(shown == records, f"the Records page shows {shown}; the JSON API {records}")
            self._seen("review", "pages agree")
        finally:
            pages.close()
        self._review_i17()

    def _review_i17(self) -> None:
        """The college that filed the newest I-17 reads its petitions: JSON, the I-17 page and the model agree."""
        m, d = self.model, self.driver
        owners = [p.owner for p in m.petitions if p.owner.password]
        if not owners:
            return
        u = owners[-1]
        self.act_login(self._ref(u), True)
        if not m.token_ok(u):
            return
        status, body = d.call("GET", f"{d.t.rti_url}/api/petitions", token=u.token)
        expect(status == 200, f"RTI petitions answered {status}")
        listed = sorted(
            (p["petition_id"], p.get("school_name") or "", p["state"], p.get("school_code") or "")
            for p in body["petitions"]
        )
        expected = sorted(
            (p.pid, p.body.get("school_name") or "", p.state, p.codes[0] if p.codes else "")
            for p in m.petitions
            if p.owner is u
        )
        expect(listed == expected, f"RTI lists the I-17s of {u.user_id} as {listed}; the model {expected}")
        pages, logged_in = self._page_login(u)
        try:
            if not logged_in:
                return
            shown = sorted(
                (int(r[0].split()[-1]), "" if r[1] == "(no name yet)" else r[1], r[2], r[3])
                for r in self._table(pages, f"{d.t.rti_url}/i17", "petitions")
            )
            expect(shown == listed, f"the Form I-17 page shows {shown}; the JSON API {listed}")
            self._seen("review I-17", "pages agree")
        finally:
            pages.close()

    def _page_login(self, u: User) -> tuple[requests.Session, bool]:
        """``u`` logs in through RTI's login page (a login like any other for the model); the page must
        redirect exactly when the model says the login succeeds."""
        d = self.driver
        pages, status = d.page_session(f"{d.t.rti_url}/login", {"user_id": u.user_id, "password": u.password})
        want = self._login_outcome(u, True)
        expect(
            (status in (302, 303)) == (want == 200),
            f"page login of {u.user_id} answered {status}; the JSON model says {want}",
        )
        return pages, want == 200

    @staticmethod
    def _table(session: requests.Session, url: str, table: str) -> list[list[str]]:
        r = session.get(url, timeout=60)
        expect(r.status_code == 200, f"{url} answered {r.status_code}")
        doc = lhtml.fromstring(r.content)
        return [
            [" ".join(td.text_content().split()) for td in tr.findall("td")]
            for tr in doc.xpath(f"//table[@id='{table}']/tbody/tr")
        ]

    # --- the progress rule: the next step of the procedure for the oldest college still in it --------------
    def next_step(self, sponsor: bool = False) -> tuple[str, dict]:
        """The next step of the procedure for the oldest college (or, with ``sponsor``, the oldest
        exchange-visitor sponsor) still in it; a path already done yields to the other one."""
        if sponsor and not self.done_j() or self.done_fm() and not self.done_j():
            return self.next_step_j()
        m = self.model
        temps = [
            i
            for i, u in enumerate(m.users)
            if u.role == "TEMP" and getattr(m.latest_petition(u), "state", None) != "rejected"
        ]
        if not temps:
            return "register_account", {}
        t = temps[0]  # the oldest college still in the procedure
        owner = m.users[t]
        if owner.password is None:
            return "set_password", {"user": self._ref(owner), "newest": True, "strong": True}
        if not m.token_ok(owner):
            return "login", {"user": self._ref(owner), "right": True}
        p = m.latest_petition(owner)
        if p is None or (p.state == "draft" and p.missing and p.refused):
            return "fill_i17", {
                "owner": self._ref(owner),
                "category": "FM",
                "campuses": 2,
                "officials": 2,
                "fault": "none",
                "revise": False,
            }
        if p.state == "draft":
            return "submit_i17", {"owner": self._ref(owner)}
        if p.state == "submitted":
            if p.tickets == 0:
                return "response_center", {
                    "petition": m.petitions.index(p),
                    "wrong_category": False,
                    "unknown_name": False,
                }
            return "sevp_decide", {"petition": m.petitions.index(p), "approve": True}
        for i, u in enumerate(m.users):
            if u.official and u.org_id in p.codes:
                if u.password is None:
                    if u.links and (u.links[-1].used or m.now >= u.links[-1].issued + LINK_LIFETIME):
                        return "sevp_new_link", {"user": self._ref(u)}
                    return "set_password", {"user": self._ref(u), "newest": True, "strong": True}
                if u.locked_until is not None and m.now < u.locked_until:
                    continue
                if not m.token_ok(u) or u.last_login is None or m.now - u.last_login > INACTIVE_AFTER:
                    return "login", {"user": self._ref(u), "right": True}
        for i, u in enumerate(m.users):
            if u.role == "PDSO" and u.org_id in p.codes and not u.batch_registered and m.token_ok(u):
                free = [c for c in VALID_CERTS if c not in m.certs]
                if free:
                    return "register_batch", {"user": self._ref(u), "org": 0, "cert": free[0], "agree": True}
        if any(not b.processed for b in m.batches):
            return "process_now", {}
        for u in m.users:
            if u.role == "PDSO" and u.org_id in p.codes and u.batch_registered:
                return "upload", {
                    "user": self._ref(u),
                    "org": 0,
                    "cert": "own",
                    "doc": "rule-failure",
                    "reuse": False,
                    "variant": 0,
                }
        return "register_account", {}

    def next_step_j(self) -> tuple[str, dict]:
        m = self.model
        temps = [
            u for u in m.users if u.role == "TEMP-EV" and getattr(m.latest_designation(u), "state", None) != "rejected"
        ]
        if not temps:
            return "register_sponsor_account", {}
        owner = temps[0]  # the oldest sponsor still in the procedure
        if owner.password is None:
            return "set_password", {"user": self._ref(owner), "newest": True, "strong": True}
        if not m.token_ok(owner):
            return "login", {"user": self._ref(owner), "right": True}
        d = m.latest_designation(owner)
        if d is None or (d.state == "draft" and (d.missing or d.invalid) and d.refused):
            return "fill_ds3036", {"owner": self._ref(owner), "program_type": "P-3", "fault": "none", "revise": False}
        if d.state == "draft":
            return "submit_ds3036", {"owner": self._ref(owner)}
        if d.state == "submitted":
            if d.tickets == 0:
                return "help_desk", {"designation": m.designations.index(d), "unknown_name": False}
            return "dos_decide", {"designation": m.designations.index(d), "designate": True}
        for u in m.users:
            if u.official and u.org_id == d.program:
                if u.password is None:
                    if u.links and (u.links[-1].used or m.now >= u.links[-1].issued + LINK_LIFETIME):
                        return "sevp_new_link", {"user": self._ref(u)}
                    return "set_password", {"user": self._ref(u), "newest": True, "strong": True}
                if u.locked_until is not None and m.now < u.locked_until:
                    continue
                if not m.token_ok(u) or u.last_login is None or m.now - u.last_login > INACTIVE_AFTER:
                    return "login", {"user": self._ref(u), "right": True}
        for u in m.users:
            if u.role == "RO" and u.org_id == d.program and not u.batch_registered and m.token_ok(u):
                free = [c for c in VALID_CERTS if c not in m.certs]
                if free:
                    return "register_batch", {"user": self._ref(u), "org": 0, "cert": free[0], "agree": True}
        if any(not b.processed for b in m.batches):
            return "process_now", {}
        for u in m.users:
            if u.role == "RO" and u.org_id == d.program and u.batch_registered:
                return "upload", {
                    "user": self._ref(u),
                    "org": 0,
                    "cert": "own",
                    "doc": "rule-failure",
                    "reuse": False,
                    "variant": 0,
                }
        return "register_sponsor_account", {}

    def done_fm(self) -> bool:
        return any(b.processed and SCHOOL_CODE.match(b.org_id) and b.org_id != SEEDED_ORG for b in self.model.batches)

    def done_j(self) -> bool:
        return any(b.processed and PROGRAM_NUMBER.match(b.org_id) for b in self.model.batches)

    def procedure_done(self) -> bool:
        return self.done_fm() and self.done_j()

    # --- invariants ----------------------------------------------------------------------------------------
    def _outbox(self) -> list[dict]:
        status, body = self.driver.call(
            "GET", f"{self.driver.t.outbox_url}/api/messages", token=self.driver.t.control_token
        )
        expect(status == 200, f"the outbox answered {status}")
        return body["messages"]

    def check_all(self) -> None:
        try:
            self._check_all()
        except BaseException:
            self._failed()
            raise

    def _failed(self) -> None:
        self.failed = True
        if not type(self).failing:
            type(self).failing[:] = [self]

    def _check_all(self) -> None:
        m, d = self.model, self.driver
        if not self.processing_owned and any(not b.processed for b in m.batches):
            self.act_process_now()  # a server processing on its own: settle before counting records
        messages = self._outbox()
        held = Counter((msg["to"], msg["kind"]) for msg in messages)
        expect(
            held == m.emails,
            f"the outbox holds {dict(held - m.emails)} more and {dict(m.emails - held)} fewer e-mails than SEVIS sends",
        )
        self._sync_links(messages)
        records = d.control("GET", "records")["records"]
        per_org = Counter(r["org_id"] for r in records)
        expect(
            +per_org == +m.records,
            f"records per organization {dict(per_org)}; the model (created by accepted, "
            f"processed batches) {dict(+m.records)}",
        )
        self._check_designations()
        if m.petitions:
            status, body = d.call("GET", f"{d.t.sevp_url}/api/petitions", token=self._sevp())
            expect(status == 200, f"SEVP petitions answered {status}")
            got = {p["petition_id"]: (p["state"], len(p.get("response_center") or [])) for p in body["petitions"]}
            want = {p.pid: (p.state, p.tickets) for p in m.petitions}
            expect(got == want, f"SEVP's petitions (state, tickets) {got}; the model {want}")
            for p in m.petitions:
                if self.pages_seen.get(p.pid) != p.state:
                    shown = self._sevp_page_state(p.pid)
                    expect(
                        shown == p.state, f"the SEVP page of I-17 {p.pid} shows {shown!r}; JSON and model {p.state!r}"
                    )
                    self.pages_seen[p.pid] = p.state

    def _check_designations(self) -> None:
        m, d = self.model, self.driver
        if not m.designations:
            return
        status, body = d.call("GET", f"{d.t.dos_url}/api/designations", token=self._dos())
        expect(status == 200, f"the Department of State's designations answered {status}")
        got = {
            x["designation_id"]: (x["state"], len(x.get("help_desk") or []), x.get("program_number"))
            for x in body["designations"]
        }
        want = {x.did: (x.state, x.tickets, x.program) for x in m.designations}
        expect(got == want, f"the Department of State's DS-3036s (state, tickets, program) {got}; the model {want}")
        for x in m.designations:
            if self.dos_pages_seen.get(x.did) != x.state:
                shown = self._dos_page_state(x.did)
                expect(
                    shown == x.state, f"the console page of DS-3036 {x.did} shows {shown!r}; JSON and model {x.state!r}"
                )
                self.dos_pages_seen[x.did] = x.state

    def _dos_page_state(self, did: int) -> str:
        d = self.driver
        for _ in range(2):
            if self._dos_pages is None:
                self._dos_pages, _ = d.page_session(
                    f"{d.t.dos_url}/login", {"user": d.t.sevp_user, "password": d.t.sevp_password}
                )
            r = self._dos_pages.get(f"{d.t.dos_url}/designations/{did}", timeout=60, allow_redirects=False)
            if r.status_code == 200:
                heading = " ".join(lhtml.fromstring(r.content).findtext(".//h1").split())
                return heading.rsplit("—", 1)[-1].strip()
            self._dos_pages.close()
            self._dos_pages = None  # the session ended (e.g. reset): log in again
        return f"HTTP {r.status_code}"

    def _sevp_page_state(self, pid: int) -> str:
        d = self.driver
        for _ in range(2):
            if self._sevp_pages is None:
                self._sevp_pages, _ = d.page_session(
                    f"{d.t.sevp_url}/login", {"user": d.t.sevp_user, "password": d.t.sevp_password}
                )
            r = self._sevp_pages.get(f"{d.t.sevp_url}/petitions/{pid}", timeout=60, allow_redirects=False)
            if r.status_code == 200:
                heading = " ".join(lhtml.fromstring(r.content).findtext(".//h1").split())
                return heading.rsplit("—", 1)[-1].strip()
            self._sevp_pages.close()
            self._sevp_pages = None  # the session ended (e.g. reset): log in again
        return f"HTTP {r.status_code}"

    def teardown(self) -> None:
        try:
            if not self.failed:
                self.finish()
        finally:
            if self._sevp_pages is not None:
                self._sevp_pages.close()
            if self._dos_pages is not None:
                self._dos_pages.close()


def _rules(cls) -> None:
    """The Hypothesis rules: thin wrappers that record and perform one action."""
    ints = st.integers(min_value=0, max_value=7)

    def add(name, fn):
        fn.__name__ = fn.__qualname__ = name
        setattr(cls, name, fn)

    add("register_account", rule()(lambda self: self.do("register_account")))
    add(
        "set_password",
        precondition(lambda self: len(self.model.users) > 1)(
            rule(user=ints, newest=st.booleans(), strong=st.booleans())(
                lambda self, user, newest, strong: self.do("set_password", user=user, newest=newest, strong=strong)
            )
        ),
    )
    add(
        "login",
        rule(user=ints, right=st.booleans())(lambda self, user, right: self.do("login", user=user, right=right)),
    )
    add(
        "fill_i17",
        rule(
            owner=ints,
            category=st.sampled_from(["F", "FM", "M"]),
            campuses=st.integers(1, 3),
            officials=st.integers(1, 4),
            fault=st.sampled_from(["none", "none", "no-pdso", "no-school-name", "no-zip"]),
            revise=st.booleans(),
        )(
            lambda self, owner, category, campuses, officials, fault, revise: self.do(
                "fill_i17",
                owner=owner,
                category=category,
                campuses=campuses,
                officials=officials,
                fault=fault,
                revise=revise,
            )
        ),
    )
    add("submit_i17", rule(owner=ints)(lambda self, owner: self.do("submit_i17", owner=owner)))
    add("register_sponsor_account", rule()(lambda self: self.do("register_sponsor_account")))
    add(
        "fill_ds3036",
        rule(
            owner=ints,
            program_type=st.sampled_from(["P-1", "P-3", "P-4"]),
            fault=st.sampled_from(["none", "none", "forbidden-category", "no-ro", "no-site"]),
            revise=st.booleans(),
        )(
            lambda self, owner, program_type, fault, revise: self.do(
                "fill_ds3036", owner=owner, program_type=program_type, fault=fault, revise=revise
            )
        ),
    )
    add("submit_ds3036", rule(owner=ints)(lambda self, owner: self.do("submit_ds3036", owner=owner)))
    add(
        "help_desk",
        rule(designation=ints, unknown_name=st.booleans())(
            lambda self, designation, unknown_name: self.do(
                "help_desk", designation=designation, unknown_name=unknown_name
            )
        ),
    )
    add(
        "dos_decide",
        precondition(lambda self: bool(self.model.designations))(
            rule(designation=ints, designate=st.booleans())(
                lambda self, designation, designate: self.do("dos_decide", designation=designation, designate=designate)
            )
        ),
    )
    add(
        "response_center",
        rule(petition=ints, wrong_category=st.booleans(), unknown_name=st.booleans())(
            lambda self, petition, wrong_category, unknown_name: self.do(
                "response_center", petition=petition, wrong_category=wrong_category, unknown_name=unknown_name
            )
        ),
    )
    add(
        "sevp_decide",
        precondition(lambda self: bool(self.model.petitions))(
            rule(petition=ints, approve=st.booleans())(
                lambda self, petition, approve: self.do("sevp_decide", petition=petition, approve=approve)
            )
        ),
    )
    add("sevp_new_link", rule(user=ints)(lambda self, user: self.do("sevp_new_link", user=user)))
    add(
        "register_batch",
        rule(user=ints, org=ints, cert=st.sampled_from([*VALID_CERTS[:3], "seeded", *BAD_CERTS]), agree=st.booleans())(
            lambda self, user, org, cert, agree: self.do("register_batch", user=user, org=org, cert=cert, agree=agree)
        ),
    )
    add(
        "upload",
        rule(
            user=ints,
            org=ints,
            cert=st.sampled_from(CERT_CHOICES),
            doc=st.sampled_from(DOCS),
            reuse=st.booleans(),
            variant=st.integers(0, 50),
            data=st.data(),
        )(
            lambda self, user, org, cert, doc, reuse, variant, data: self.do(
                "upload",
                user=user,
                org=org,
                cert=cert,
                doc=doc,
                reuse=reuse,
                variant=variant,
                **(
                    {
                        "generated": etree.tostring(
                            data.draw(generated_documents(), label="generated document"), encoding="unicode"
                        )
                    }
                    if doc == "generated"
                    else {}
                ),
            )
        ),
    )
    add(
        "download",
        rule(batch=ints, never_sent=st.booleans())(
            lambda self, batch, never_sent: self.do("download", batch=batch, never_sent=never_sent)
        ),
    )
    add("process_now", rule()(lambda self: self.do("process_now")))
    add(
        "advance_clock",
        precondition(lambda self: self.model.advances < MAX_ADVANCES)(rule()(lambda self: self.do("advance_clock"))),
    )
    add(
        "review",
        precondition(lambda self: any(u.official and u.password for u in self.model.users))(
            rule(user=ints)(lambda self, user: self.do("review", user=user))
        ),
    )
    # the procedure's next step, drawn about as often as all the other rules together
    # once a college's batch was processed, the walk goes on with the other rules only
    for k in range(PROGRESS_WEIGHT):
        add(
            f"progress_{k}",
            precondition(lambda self: not self.procedure_done())(
                rule(path=st.integers(0, 2))(lambda self, path: self.do(*self.next_step(sponsor=path == 0)))
            ),
        )
    for k in range(1, 4):  # uploads and registrations are where most refusals are: drawn more often
        setattr(cls, f"upload_{k}", cls.upload)
        setattr(cls, f"register_batch_{k}", cls.register_batch)
    add("invariants", invariant()(lambda self: self.check_all()))


def procedure_machine(
    target: Target, translog_schema: etree.XMLSchema, work_dir: Path, *, processing_owned: bool = True
) -> type[ProcedureMachine]:
    """A machine class bound to ``target`` (its data dir's CA must be readable: certificates are issued).
    ``processing_owned``: the mock runs with a long processing delay, so only process-now processes."""
    driver = Driver(target, translog_schema)
    pool = issue_pool(target.ca_dir, Path(work_dir) / "procedure-certs", target.seeded)

    class Bound(ProcedureMachine):
        pass

    Bound.driver, Bound.pool, Bound.documents = driver, pool, Documents()
    Bound.stats, Bound.last, Bound.failing, Bound.processing_owned = Counter(), [], [], processing_owned
    Bound.__name__ = Bound.__qualname__ = "SevisProcedure"
    _rules(Bound)
    return Bound


def replay(machine_class: type[ProcedureMachine], steps: list[tuple[str, dict]]) -> ProcedureMachine:
    """Run recorded steps again, checking the invariants after each; raises at the first mismatch."""
    machine = machine_class()
    machine.check_all()
    try:
        for name, args in steps:
            machine.do(name, args)
            machine.check_all()
    finally:
        machine.teardown()
    return machine


def translog_schema(path: Path | None = None) -> etree.XMLSchema:
    """The TransLog XSD every log is checked against: ``path`` (e.g. ICE's official SevisTransLog.xsd) when
    given, else the project's own copy (nothing installed reads files outside the package)."""
    from sevis_mock.schemas import schema_for_root

    return etree.XMLSchema(etree.parse(str(path or schema_for_root("TransactionLog"))))
