"""What SEVIS should answer at each step of the fifteen-step procedure (PROTOCOL §7), and what it then holds:
plain data and functions, no server.

The procedure has two paths that share one shape, told apart by the kind of organization (:class:`Path`): an
F/M school registers with the certification purpose, files Form I-17, calls the Response Center, and SEVP
approves it (a school code per campus); an exchange-visitor sponsor registers with the designation purpose,
files Form DS-3036, calls the help desk, and the Department of State designates it (a program number). Then
both: officials set passwords and log in, the PDSO (or RO) registers a certificate for batch, and batches are
uploaded, processed and downloaded.

:class:`Model` holds the users, applications (I-17s and DS-3036s), organizations, registered certificates,
batches, e-mails and records, and says for each action the HTTP status or SEVIS code SEVIS answers
(``*_outcome`` / :meth:`Model.upload_code`), applying the action's effects. :meth:`Model.next_step` is the
procedure's next step for the oldest college or sponsor still in it. :func:`batch_results` reads a processed
batch's log. Every refusal of an expectation raises :class:`ProcedureMismatch` with the action and what SEVIS
should answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree

from .documents import FM, J, letters
from .rehearsal.sponsor import sample_sponsor

CLOCK = datetime(2027, 1, 20, 9, 0, 0)  # [i] the mock clock at the start of every walk (as the lifecycle's)
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


class ProcedureMismatch(AssertionError):
    """The mock answered otherwise than SEVIS should."""


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise ProcedureMismatch(message)


# --- the two paths -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One kind of organization's way through the procedure, in SEVIS's words (:data:`PATH_TABLE`)."""

    kind: str  # F/M or J
    temporary_role: str  # the account's role until approval
    purpose: str  # the account request's purpose
    who: str  # the organization's people in labels and e-mail addresses
    contact: tuple[str, str, str]  # first name, last-name prefix, phone
    domain: str
    form: str  # the application's name
    noun: str  # the application in labels
    api: str  # the RTI and console collection
    id_field: str
    name_field: str
    name_suffix: str
    help: str  # the help channel's RTI path
    help_action: str  # its action, and the console's field listing its tickets
    operator: str  # who decides, in labels
    decide: tuple[str, str]  # the verbs (yes, no)
    decided: tuple[str, str]  # the states after (yes, no)
    batch_official: str  # the official who registers the certificate
    fill_refusal: str  # the label of a fill by someone else
    rule_code: str  # the business-rule failure of the rule-failure fixture
    batch_prefix: str  # of Batch.kind for a good and a rule-failure upload

    @property
    def noun_arg(self) -> str:
        """The argument naming an application in the help and decide actions (petition, designation)."""
        return self.api[:-1]

    @property
    def good_kind(self) -> str:
        return f"{self.batch_prefix}good"

    @property
    def rule_kind(self) -> str:
        return f"{self.batch_prefix}rule-failure"


# field: (F/M, J) -- the two paths side by side
PATH_TABLE: dict[str, tuple[Any, Any]] = {
    "kind": (FM, J),
    "temporary_role": ("TEMP", "TEMP-EV"),
    "purpose": ("certification", "designation"),
    "who": ("college", "sponsor"),
    "contact": (("Pat", "Tester", "703-555-0100"), ("Rosa", "Sponsor", "202-555-0100")),
    "domain": ("rehearsal.example.edu", "rehearsal.example.org"),
    "form": ("I-17", "DS-3036"),
    "noun": ("petition", "DS-3036"),
    "api": ("petitions", "designations"),
    "id_field": ("petition_id", "designation_id"),
    "name_field": ("school_name", "sponsor_name"),
    "name_suffix": ("Rehearsal College", "Rehearsal Exchange"),
    "help": ("response-center", "help-desk"),
    "help_action": ("response_center", "help_desk"),
    "operator": ("SEVP", "DoS"),
    "decide": (("approve", "reject"), ("designate", "reject")),
    "decided": (("approved", "rejected"), ("designated", "rejected")),
    "batch_official": ("PDSO", "RO"),
    "fill_refusal": ("by an official or a sponsor", "by someone not a sponsor's temporary user"),
    "rule_code": ("S1009", "S2282"),
    "batch_prefix": ("", "j-"),
}
FM_PATH, J_PATH = (Path(**{name: pair[side] for name, pair in PATH_TABLE.items()}) for side in (0, 1))
PATHS = {FM: FM_PATH, J: J_PATH}


# --- the state ---------------------------------------------------------------------------------------------


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
class Application:
    """A Form I-17 (F/M) or DS-3036 (J): the model's copy."""

    path: Path
    owner: User
    name: str
    number: int  # petition_id / designation_id (0 until stored)
    state: str = "draft"
    body: dict = field(default_factory=dict)
    missing: set = field(default_factory=set)
    invalid: set = field(default_factory=set)
    refused: bool = False  # a submission was refused for what is missing or invalid
    tickets: int = 0
    codes: list[str] = field(default_factory=list)  # the school's campus codes, or the program number

    @property
    def program(self) -> str | None:
        return self.codes[0] if self.path is J_PATH and self.codes else None


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
    kind: str  # good, rule-failure, generated, mutant, malformed, j-good, j-rule-failure, fm-to-j, none
    principals: int
    creates: set
    processed: bool = False
    results: tuple | None = None
    created: int = 0


@dataclass
class Outcome:
    """What SEVIS answers an action: the label it is counted and reported under, and the HTTP status."""

    action: str
    status: int


# --- the forms (the JSON each application action sends) ---------------------------------------------------


def i17_form(app: Application, category: str, campuses: int, officials: int, fault: str) -> tuple[dict, set, set]:
    """(body, missing, invalid) of a Form I-17 with ``campuses`` campuses and ``officials`` officials."""
    tag = app.name.split()[0].lower()
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
            "email": f"o{j}.p{app.number}.{tag}@school.example.edu",
            "campus": j if j < campuses else 0,
        }
        for j in range(officials)
    ]
    school_name, missing = app.name, set()
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
                "officials: a PDSO for the main campus" if i == 0 else f"officials: a PDSO for campus {i} ({c['name']})"
            )
    body = {"school_name": school_name, "category": category, "campuses": body_campuses, "officials": body_officials}
    return body, missing, set()


def ds3036_form(app: Application, program_type: str, fault: str) -> tuple[dict, set, set]:
    """(body, missing, invalid) of a Form DS-3036 with its RO, an ARO and one site, or ``fault``."""
    tag = app.name.split()[0].lower()
    categories = ["08", "09", "2A"]  # what the EV documents use (S2163 otherwise)
    officials = [
        {
            "role": role,
            "first_name": first,
            "last_name": last,
            "email": f"{role.lower()}.d{app.number}.{tag}@sponsor.example.org",
        }
        for role, first, last in (("RO", "Rory", "Officer"), ("ARO", "Ari", "Alternate"))
    ]
    sites = sample_sponsor(tag)["sites"]  # the rehearsal's sample program's headquarters
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
        "sponsor_name": app.name,
        "program_type": program_type,
        "categories": categories,
        "officials": officials,
        "sites": sites,
    }
    return body, missing, invalid


FORMS = {FM: i17_form, J: ds3036_form}


# --- the model ---------------------------------------------------------------------------------------------


class Model:
    def __init__(self, seeded_org: str = SEEDED_ORG, seeded_user: str = "MCKPDSO001") -> None:
        self.now = 0.0  # mock seconds since CLOCK
        self.users: list[User] = []
        self.applications: list[Application] = []
        self.orgs: dict[str, Org] = {}
        self.certs: dict[str, tuple[str, str]] = {}  # pool name -> (org_id, user_id) registered
        self.batches: list[Batch] = []
        self.used_ids: set[tuple[str, str]] = set()
        self.emails: Counter = Counter()  # (to, kind)
        self.records: Counter = Counter()  # org_id -> records created
        self.accounts: Counter = Counter()  # kind -> accounts registered
        self.advances = 0
        self.counter = 0
        seeded = User(
            "seeded PDSO",
            "",
            "PDSO",
            user_id=seeded_user,
            org_id=seeded_org,
            last_login=0.0,
            batch_registered=True,
            has_account=False,
        )
        self.users.append(seeded)
        self.orgs[seeded_org] = Org(seeded_org, registered=True)
        self.certs["seeded"] = (seeded_org, seeded_user)

    # --- reading the state ---
    def fresh(self) -> int:
        self.counter += 1
        return self.counter

    def of(self, path: Path) -> list[Application]:
        return [a for a in self.applications if a.path is path]

    @property
    def petitions(self) -> list[Application]:
        return self.of(FM_PATH)

    @property
    def designations(self) -> list[Application]:
        return self.of(J_PATH)

    def token_ok(self, user: User) -> bool:
        return user.token is not None and self.now < user.token_at + TOKEN_LIFETIME

    def latest(self, user: User, path: Path) -> Application | None:
        mine = [a for a in self.of(path) if a.owner is user]
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

    def done(self, path: Path) -> bool:
        """A batch of an organization this path created was processed."""
        if path is J_PATH:
            return any(b.processed and PROGRAM_NUMBER.match(b.org_id) for b in self.batches)
        return any(b.processed and SCHOOL_CODE.match(b.org_id) and b.org_id != SEEDED_ORG for b in self.batches)

    # --- steps 1-4: accounts, passwords, logins ---
    def account(self, path: Path) -> tuple[dict, str]:
        """The next account request of ``path`` (body, e-mail)."""
        n = self.accounts[path.kind] + 1
        first, last, phone = path.contact
        email = f"{path.who}{n}@{path.domain}"
        body = {"first_name": first, "last_name": f"{last} {letters(n)}", "email": email, "phone": phone}
        return body | {"purpose": path.purpose}, email

    def account_registered(self, path: Path, email: str, user_id: str) -> None:
        expect(len(user_id) == 10, f"temporary user ID {user_id!r} is not 10 characters")
        self.accounts[path.kind] += 1
        label = f"{path.who} {self.accounts[path.kind]}"
        self.users.append(User(label, email, path.temporary_role, user_id=user_id, links=[Link(self.now)]))
        self.emails[(email, "temporary-user-id")] += 1
        self.emails[(email, "set-password")] += 1

    def set_password_outcome(self, user: User, newest: bool, strong: bool) -> tuple[Outcome, Link | None]:
        """What Set Password answers with the user's newest (or oldest) link."""
        if not user.links:
            return Outcome("set_password unknown link", 404), None
        link = user.links[-1 if newest else 0]
        if link.used:
            return Outcome("set_password used link", 410), link
        if self.now >= link.issued + LINK_LIFETIME:
            return Outcome("set_password expired link", 410), link
        if not strong:
            return Outcome("set_password weak", 400), link
        return Outcome("set_password", 200), link

    def password_set(self, user: User, link: Link, password: str) -> None:
        link.used, user.password, user.failed, user.locked_until = True, password, 0, None
        for other in user.links:  # a new password ends every other link and every token of the account
            other.used = True
        user.token = None

    def login_outcome(self, user: User, right: bool) -> int:
        """The status SEVIS answers a login, applying its effects (failures, lock, last login)."""
        if not user.has_account:
            return 401
        if user.locked_until is not None:
            if self.now < user.locked_until:
                return 429
            user.locked_until, user.failed = None, 0
        if user.password is None:
            return 401
        if not right:
            user.failed += 1
            if user.failed >= MAX_FAILED:
                user.locked_until = self.now + LOCK_TIME
                return 429
            return 401
        user.failed, user.last_login = 0, self.now
        return 200

    def new_link(self, user: User, email: str) -> None:
        """SEVP sent ``user`` a new Set Password link (to ``email``: a seeded official gets an account)."""
        if not user.has_account:
            user.has_account, user.email = True, email
        expect(email == user.email, f"new link e-mailed to {email}, not {user.email}")
        user.links.append(Link(self.now))
        self.emails[(user.email, "set-password")] += 1

    # --- steps 5-8: the application and the help channel ---
    def draft(self, user: User, path: Path) -> Application:
        """The user's draft to fill: the latest if still a draft, else a new one (number 0 until stored)."""
        latest = self.latest(user, path)
        if latest is not None and latest.state == "draft":
            return latest
        return Application(path, user, f"{letters(self.fresh() + 30)} {path.name_suffix}", 0)

    def fill_outcome(self, user: User, app: Application) -> Outcome:
        path = app.path
        action = f"fill_{path.form.replace('-', '').lower()}"
        if not self.token_ok(user):
            return Outcome(f"{action} without login", 401)
        if user.role != path.temporary_role:
            return Outcome(f"{action} {path.fill_refusal}", 403)
        return Outcome(action, 200 if app.number else 201)

    def revise_outcome(self, user: User, app: Application) -> Outcome:
        """Changing an application no longer a draft."""
        action = f"fill_{app.path.form.replace('-', '').lower()} of a {app.state} {app.path.noun}"
        return Outcome(action, 401 if not self.token_ok(user) else 409)

    def filled(self, app: Application, number: int, body: dict, missing: set, invalid: set) -> None:
        if not app.number:
            app.number = number
            self.applications.append(app)
        app.body, app.missing, app.invalid = body, missing, invalid

    def submit_outcome(self, user: User, app: Application | None, path: Path) -> Outcome:
        action = f"submit_{path.form.replace('-', '').lower()}"
        if not self.token_ok(user):
            return Outcome(f"{action} without login", 401)
        if app is None:
            return Outcome(f"{action} of no {path.form}", 404)
        if app.state != "draft":
            return Outcome(f"{action} of a {app.state} {path.noun}", 409)
        if app.missing or app.invalid:
            label = "with a category the program may not use" if app.invalid else "incomplete"
            return Outcome(f"{action} {label}", 400)
        return Outcome(action, 200)

    def submitted(self, app: Application, outcome: Outcome, refusal: dict | None) -> None:
        """Apply a submission's outcome; a refusal must name exactly what is missing and invalid."""
        if outcome.status == 400:
            app.refused = True
            got = (set((refusal or {}).get("missing") or []), set((refusal or {}).get("invalid") or []))
            expect(
                got == (app.missing, app.invalid),
                f"{outcome.action}: refused naming missing/invalid {got}; SEVIS should name {(app.missing, app.invalid)}",
            )
        elif outcome.status == 200:
            app.state = "submitted"

    def help_request(self, path: Path, app: Application | None, wrong_category: bool, unknown_name: bool) -> dict:
        """The body sent to the Response Center (F/M) or the help desk (J)."""
        name = f"Nowhere {path.name_suffix}" if (unknown_name or app is None) else app.name
        first, last, phone = path.contact
        body = {
            "organization_name": name,
            "contact_name": f"{first} {last}",
            "email": f"contact@{path.domain}",
            "phone": phone,
        }
        if path is FM_PATH:
            category = (app.body.get("category") if app else None) or "F"
            if wrong_category:
                category = {"F": "M", "M": "FM", "FM": "F"}[category]
            body["school_category"] = category
        return body | {path.name_field: name}

    def help_outcome(self, path: Path, app: Application | None, wrong_category: bool, unknown_name: bool) -> Outcome:
        matched = app is not None and not unknown_name and app.state in ("submitted", path.decided[0])
        if not matched:
            return Outcome(f"{path.help_action}: no submitted {path.form} of that name", 400)
        if wrong_category:
            return Outcome(f"{path.help_action}: wrong category", 400)
        return Outcome(path.help_action, 201)

    # --- steps 9-10: the decision ---
    def decide_outcome(self, app: Application, yes: bool) -> Outcome:
        path = app.path
        verb = path.decide[0 if yes else 1]
        if app.state != "submitted":
            return Outcome(f"{path.operator} {verb} a {app.state} {path.noun}", 409)
        return Outcome(f"{path.operator} {verb}", 200)

    def decided(self, app: Application, yes: bool, reply: dict) -> None:
        """Apply an approval (a school code per campus) or a designation (a program number), after checking the
        reply: the codes, and one user per official of the application."""
        codes, org_field = self._decision_codes(app, reply) if yes else ([], "")
        officials = reply.get("officials") or [] if yes else []
        if yes:
            expect(
                len(officials) == len(app.body["officials"]),
                f"the {app.path.form}'s decision lists {len(officials)} officials, the form {len(app.body['officials'])}",
            )
            for o, wanted in zip(officials, app.body["officials"]):
                org = codes[wanted.get("campus", 0)]
                expect(
                    o["email"] == wanted["email"] and o["role"] == wanted["role"] and o[org_field] == org,
                    f"the {app.path.form}'s decision names official {o}; the form {wanted} of {org}",
                )
        app.state = app.path.decided[0 if yes else 1]
        self.emails[(app.owner.email, app.state)] += 1
        app.codes.extend(codes)
        for code in codes:
            self.orgs[code] = Org(code)
        for o, wanted in zip(officials, app.body["officials"]):
            org = codes[wanted.get("campus", 0)]
            user = User(f"{o['role']} {o['user_id']}", o["email"], o["role"], o["user_id"], org, [Link(self.now)])
            self.users.append(user)
            self.emails[(o["email"], "set-password")] += 1

    @staticmethod
    def _decision_codes(app: Application, reply: dict) -> tuple[list[str], str]:
        """The organization codes a decision gives (checked), and the field naming each official's."""
        if app.path is FM_PATH:
            main = reply.get("school_code") or ""
            expect(SCHOOL_CODE.match(main) and main.endswith("000"), f"school code {main!r} is not AAA214F########000")
            campuses = reply.get("campuses") or []
            expect(
                len(campuses) == len(app.body["campuses"]),
                f"approval lists {len(campuses)} campuses, the I-17 {len(app.body['campuses'])}",
            )
            for k, c in enumerate(campuses):
                expect(c["school_code"] == f"{main[:12]}{k:03d}", f"campus {k} code {c['school_code']}, main {main}")
            return [c["school_code"] for c in campuses], "campus_code"
        number = reply.get("program_number") or ""
        expect(
            PROGRAM_NUMBER.match(number) and number.startswith(app.body["program_type"] + "-"),
            f"program number {number!r} is not {app.body['program_type']}- and five digits",
        )
        expect(
            reply.get("categories") == app.body["categories"],
            f"designated categories {reply.get('categories')}, the DS-3036 asked for {app.body['categories']}",
        )
        return [number], "program_number"

    # --- step 11: batch registration ---
    def register_batch_outcome(self, user: User, org_id: str, cert: str, agree: bool) -> Outcome:
        action = f"register_batch ({cert}{'' if agree else ', agreement refused'})"
        if not self.token_ok(user):
            return Outcome(action + " without login", 401)
        if org_id not in self.orgs:
            return Outcome(action + " for an unknown org", 404)
        if not user.official or user.org_id != org_id or user.role not in ("PDSO", "RO"):
            who = (
                "an ARO, not its RO [i]"
                if user.role == "ARO" and user.org_id == org_id
                else "someone not its PDSO or RO"
            )
            return Outcome(f"{action} by {who}", 403)
        if cert in BAD_CERTS or not agree:
            return Outcome(action, 400)
        held = self.certs.get(cert)
        if held is not None and held != (org_id, user.user_id):
            return Outcome(action + " of another org's certificate", 409)
        return Outcome(action, 200)

    def batch_registered(self, user: User, org_id: str, cert: str) -> None:
        self.certs[cert] = (org_id, user.user_id or "")
        self.orgs[org_id].registered = True
        user.batch_registered = True
        self.emails[(user.email, "batch-registered")] += 1

    # --- steps 12-15: batches ---
    def org_choice(self, n: int, user: User | None = None) -> str:
        """0-3: the user's own organization (half the draws); else every known code and one SEVIS does not know."""
        if n < 4 and user is not None and user.org_id is not None:
            return user.org_id
        codes = [*self.orgs, UNKNOWN_ORG, UNKNOWN_PROGRAM]
        return codes[n % len(codes)]

    def presented(self, org_id: str, user: User, choice: str) -> str:
        """The certificate shown for an upload: own (registered to this org and user), another org's, or
        one registered nowhere; falls back in that order when there is none."""
        own = [c for c, held in self.certs.items() if held == (org_id, user.user_id)]
        other = [c for c, held in self.certs.items() if held[0] != org_id]
        free = [c for c in VALID_CERTS if c not in self.certs]
        order = {"own": [own, other, free], "other-org": [other, free], "unregistered": [free, other]}[choice]
        return next(options[0] for options in order if options) if any(order) else "seeded"

    def upload_code(self, org_id: str, user: User, cert: str, batch_id: str, doc_code: str) -> tuple[str, str | None]:
        """(code, why refused) SEVIS answers an upload whose document alone would get ``doc_code``."""
        refusal = self.identity_refusal(org_id, user, cert)
        if refusal and org_id == UNKNOWN_PROGRAM:
            refusal = ("S0002", "upload to a program number before designation")
        if refusal:
            return refusal[0], refusal[1]
        return ("S0010" if (org_id, batch_id) in self.used_ids else doc_code), None

    def uploaded(self, batch: Batch) -> None:
        self.used_ids.add((batch.org_id, batch.batch_id))
        self.batches.append(batch)

    def download_code(self, batch: Batch) -> str:
        return self.identity_code(batch.org_id, batch.user, batch.cert) or (
            "S0031" if batch.kind == "none" else "S0030" if not batch.processed else "S0000"
        )

    def processed(self, batch: Batch, results: tuple) -> None:
        batch.results, batch.processed = results, True
        batch.created = sum(1 for r, status, _ in results if status == "true" and r in batch.creates)
        self.records[batch.org_id] += batch.created

    def advanced(self) -> None:
        self.now += ADVANCE
        self.advances += 1

    # --- the procedure's next step ---
    def next_step(self, sponsor: bool = False) -> tuple[str, dict]:
        """The next step of the procedure for the oldest college (or, with ``sponsor``, the oldest
        exchange-visitor sponsor) still in it; a path already done yields to the other one."""
        if sponsor and not self.done(J_PATH) or self.done(FM_PATH) and not self.done(J_PATH):
            return self.next_step_on(J_PATH)
        return self.next_step_on(FM_PATH)

    def ref(self, user: User) -> int:
        """The number that makes the machine's user choice name ``user`` (100 + its index)."""
        return 100 + self.users.index(user)

    def next_step_on(self, path: Path) -> tuple[str, dict]:
        """The next step of ``path`` for its oldest college or sponsor still in it (a new account when none is)."""
        register = "register_account" if path is FM_PATH else "register_sponsor_account"
        owners = [
            u
            for u in self.users
            if u.role == path.temporary_role and getattr(self.latest(u, path), "state", None) != path.decided[1]
        ]
        if not owners:
            return register, {}
        owner = owners[0]
        app = self.latest(owner, path)
        step = self._login_step(owner, renew_link=False) or self._application_step(path, owner, app)
        if step is None and app is not None:
            step = self._officials_step(app) or self._batch_step(path, app)
        return step or (register, {})

    def _login_step(self, user: User, renew_link: bool = True) -> tuple[str, dict] | None:
        """A password for ``user`` (with ``renew_link``, SEVP's new link first when the last is used or expired),
        or a login; None when logged in."""
        if user.password is None:
            last = user.links[-1] if user.links else None
            if renew_link and last is not None and (last.used or self.now >= last.issued + LINK_LIFETIME):
                return "sevp_new_link", {"user": self.ref(user)}
            return "set_password", {"user": self.ref(user), "newest": True, "strong": True}
        if not self.token_ok(user) or user.last_login is None or self.now - user.last_login > INACTIVE_AFTER:
            return "login", {"user": self.ref(user), "right": True}
        return None

    def _application_step(self, path: Path, owner: User, app: Application | None) -> tuple[str, dict] | None:
        """Fill (again, after a refusal), submit, ask the help channel, have it decided; None once decided."""
        form = path.form.replace("-", "").lower()
        if app is None or (app.state == "draft" and (app.missing or app.invalid) and app.refused):
            choices: dict[str, Any] = (
                {"category": "FM", "campuses": 2, "officials": 2} if path is FM_PATH else {"program_type": "P-3"}
            )
            return f"fill_{form}", {"owner": self.ref(owner), **choices, "fault": "none", "revise": False}
        if app.state == "draft":
            return f"submit_{form}", {"owner": self.ref(owner)}
        if app.state != "submitted":
            return None
        index = self.of(path).index(app)
        if app.tickets == 0:
            extra = {"wrong_category": False} if path is FM_PATH else {}
            return path.help_action, {path.noun_arg: index, **extra, "unknown_name": False}
        return ("sevp_decide" if path is FM_PATH else "dos_decide"), {path.noun_arg: index, path.decide[0]: True}

    def _officials_step(self, app: Application) -> tuple[str, dict] | None:
        """The next official of the approved school or designated program to set a password or log in."""
        for u in self.users:
            locked = u.locked_until is not None and self.now < u.locked_until
            if u.official and u.org_id in app.codes and not locked:
                step = self._login_step(u)
                if step is not None:
                    return step
        return None

    def _batch_step(self, path: Path, app: Application) -> tuple[str, dict] | None:
        """Register a certificate, process what is queued, upload a batch."""
        officials = [u for u in self.users if u.role == path.batch_official and u.org_id in app.codes]
        free = [c for c in VALID_CERTS if c not in self.certs]
        for u in officials:
            if not u.batch_registered and self.token_ok(u) and free:
                return "register_batch", {"user": self.ref(u), "org": 0, "cert": free[0], "agree": True}
        if any(not b.processed for b in self.batches):
            return "process_now", {}
        for u in officials:
            if u.batch_registered:
                upload = {"cert": "own", "doc": "rule-failure", "reuse": False, "variant": 0}
                return "upload", {"user": self.ref(u), "org": 0, **upload}
        return None


def batch_results(batch: Batch, log: etree._Element) -> tuple:
    """The sorted (requestID, status, error code) of a processed batch's log, checked: RecordCount against the
    principals sent, the Process code against the failures, and the outcome of each fixture's records (a good
    create applies; the rule-failure fixture applies its first record and refuses the second with its code)."""
    process = log.find("BatchDetail/Process")
    expect(process is not None, f"the log of processed batch {batch.batch_id} has no Process part")
    assert process is not None
    counts = process.find("RecordCount")
    records = process.findall("Record")
    if counts is None:  # the TransLog XSD makes the count optional: only a batch with no records may leave it out
        expect(
            batch.principals == 0 and not records,
            f"{batch.batch_id}: no RecordCount in the log of a batch of "
            f"{batch.principals} principals ({len(records)} Records)",
        )
        expect(
            process.get("resultCode") == "S0000",
            f"{batch.batch_id}: an empty batch processed with {process.get('resultCode')}; SEVIS answers S0000",
        )
        return ()
    success, failure, total = (int(counts.findtext(k) or 0) for k in ("Success", "Failure", "Total"))
    expect(
        total == batch.principals == len(records) and success + failure == total,
        f"{batch.batch_id}: RecordCount {success}/{failure}/{total} and {len(records)} Records for "
        f"{batch.principals} principals sent",
    )
    want = "S0000" if failure == 0 else "S0020"
    expect(
        process.get("resultCode") == want,
        f"{batch.batch_id}: process {process.get('resultCode')} with {failure} failures; SEVIS answers {want}",
    )
    outcome = tuple(
        sorted((r.get("requestID"), r.find("Result").get("status"), r.findtext("Result/ErrorCode")) for r in records)
    )
    path = next((p for p in PATHS.values() if batch.kind in (p.good_kind, p.rule_kind)), None)
    if path is not None and batch.kind == path.good_kind:
        expect(failure == 0, f"{batch.batch_id}: a valid create failed: {outcome}")
    if path is not None and batch.kind == path.rule_kind:
        got = {r: (s, c) for r, s, c in outcome}
        wanted = {r: ("true", None) if r.endswith("-0001") else ("false", path.rule_code) for r in batch.creates}
        expect(got == wanted, f"{batch.batch_id}: the {path.rule_code} batch gave {outcome}; SEVIS gives {wanted}")
    return outcome
