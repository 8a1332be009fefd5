"""A stateful model of the whole fifteen-step procedure (PROTOCOL §7), every step done right or wrong.

:func:`procedure_machine` returns a Hypothesis ``RuleBasedStateMachine`` bound to a running mock (the
:class:`~sevis_mock.harness.connection.Connection` read from its connection.json; the machine speaks to it
with :class:`~sevis_mock.harness.api.MockApi` and, for batches, :class:`~sevis_mock.harness.client.SevisClient`). Its actions are the college's and the sponsor's -- register an
account, set passwords (fresh, used or expired links, weak passwords), log in (right or wrong password), fill
and submit Form I-17 (F / FM / M, 1-3 campuses, 1-4 officials, with or without a missing field) or Form
DS-3036 (with or without its RO or site, or with a category the program type may not use), contact the
Response Center or the help desk, SEVP approves or the Department of State designates (or rejects, or SEVP
sends a new link), the PDSO or RO registers a certificate (valid, expired, not yet valid, no clientAuth, a
private key, another org's; an ARO is refused), uploads (a valid create, a business-rule failure, a
schema-generated document, a single-fault mutant, malformed XML, a school's batch sent to a program; with its
own, another org's or an unregistered certificate; a re-used batch ID; to a program number before
designation), downloads, processing and 45 days of mock time -- in whatever order Hypothesis draws.
:data:`ACTIONS` lists them with their weights and arguments (data, one rule draws from it). The ``progress``
action (about 2/3 of the steps until both paths processed a batch) performs the next step of the procedure
for the oldest college or sponsor still in it, so that walks reach batch uploads; it records the concrete
action it chose. Users, orgs and certificates are chosen by small numbers resolved against the model's
state (see ``_user``), so a walk is plain data that replays.

The machine is thin: :mod:`sevis_mock.harness.procedure_model` says what SEVIS should answer to each action in
each state (HTTP status or SEVIS code) and holds what SEVIS then holds (plain data, tested without a server);
:mod:`sevis_mock.harness.documents` builds the batches. The F/M and J paths are one implementation
parametrized by the kind of organization (:class:`~sevis_mock.harness.procedure_model.Path`). The machine
asserts the mock's answer equals the model's, and after every step checks: the outbox holds exactly the
model's e-mails (none lost, none extra); the records held per organization equal what the model's accepted
and processed batches created (a refused upload creates nothing); each I-17's state and Response Center
tickets in SEVP's JSON API, and each DS-3036's state, help-desk tickets and program number in the Department
of State's, equal the model, and each console's page agrees with its JSON; every transaction log validates
against the TransLog XSD. ``process-now`` must process exactly the batches the model has queued (each
accepted upload is processed once; every walk ends by processing what is still queued), and a processed
batch downloads the same results every time. The ``review`` action compares the RTI pages (Batches, Records,
Form I-17) with the RTI JSON lists.

Every action is recorded as ``(name, arguments)`` of plain data in ``machine.trace``; :func:`replay`
runs such a list again (with the invariants after each step), which is how ``rehearse --explore`` writes
a failing walk as a script.

Start the mock with a long processing delay (the machine processes with ``POST /control/process-now``),
e.g. ``--processing-delay 86400``: [i] batches then never become due by themselves, except across a
45-day clock jump, before which the machine processes everything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import requests
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from lxml import etree
from lxml import html as lhtml

from .api import MockApi
from .client import SevisClient, SevisHTTPError
from .connection import Connection, SevisOrg
from .documents import FM, BatchDocuments, generated_documents
from .procedure_model import (
    ADVANCE,
    BAD_CERTS,
    CERT_CHOICES,
    CLOCK,
    DOCS,
    FM_PATH,
    J_PATH,
    MAX_ADVANCES,
    PROGRAM_NUMBER,
    STRONG_PASSWORD,
    TOKEN_LIFETIME,
    VALID_CERTS,
    WEAK_PASSWORD,
    Application,
    Batch,
    Model,
    Outcome,
    ProcedureMismatch,
    User,
    batch_results,
    ds3036_form,
    expect,
    i17_form,
)
from .procedure_model import Path as ProcedurePath

__all__ = ["ACTIONS", "ProcedureMachine", "ProcedureMismatch", "procedure_machine", "replay"]

PROGRESS_WEIGHT = 40  # draws of the progress action among about 25 of the others: 2/3 of the steps advance
USERS = st.integers(min_value=0, max_value=7)  # who acts: see ProcedureMachine._user

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


def issue_pool(ca_dir: Path, out: Path, seeded: SevisOrg) -> dict[str, PoolCert]:
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
    assert seeded.client_cert and seeded.client_key, "the seeded school's certificate files are listed"
    pem = Path(seeded.client_cert).read_text()
    pool["seeded"] = PoolCert(
        "seeded",
        seeded.client_cert,
        seeded.client_key,
        pem,
        fingerprint(x509.load_pem_x509_certificate(pem.encode())),
    )
    key = Path(pool["c0"].key_path).read_text()
    pool["private-key"] = PoolCert("private-key", "", "", key, "")
    return pool


# --- HTTP -----------------------------------------------------------------------------------------------------


def page_session(verify: str | bool, login_url: str, fields: dict) -> tuple[requests.Session, int]:
    """A cookie session logged in through an HTML login form (with its CSRF token): RTI's or a console's."""
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=
    s.verify = verify
    page = s.get(login_url, timeout=60)
    token = lhtml.fromstring(page.content).xpath("//input[@name='csrf_token']/@value")
    r = s.post(login_url, data={**fields, "csrf_token": token[0] if token else ""}, allow_redirects=False, timeout=60)
    return s, r.status_code


# --- the actions, as data ---------------------------------------------------------------------------------------

ACTIONS: dict[str, tuple[int, dict[str, Any]]] = {
    # name: (weight among the draws, argument strategies)
    "register_account": (1, {}),
    "register_sponsor_account": (1, {}),
    "set_password": (1, {"user": USERS, "newest": st.booleans(), "strong": st.booleans()}),
    "login": (1, {"user": USERS, "right": st.booleans()}),
    "fill_i17": (
        1,
        {
            "owner": USERS,
            "category": st.sampled_from(["F", "FM", "M"]),
            "campuses": st.integers(1, 3),
            "officials": st.integers(1, 4),
            "fault": st.sampled_from(["none", "none", "no-pdso", "no-school-name", "no-zip"]),
            "revise": st.booleans(),
        },
    ),
    "fill_ds3036": (
        1,
        {
            "owner": USERS,
            "program_type": st.sampled_from(["P-1", "P-3", "P-4"]),
            "fault": st.sampled_from(["none", "none", "forbidden-category", "no-ro", "no-site"]),
            "revise": st.booleans(),
        },
    ),
    "submit_i17": (1, {"owner": USERS}),
    "submit_ds3036": (1, {"owner": USERS}),
    "response_center": (1, {"petition": USERS, "wrong_category": st.booleans(), "unknown_name": st.booleans()}),
    "help_desk": (1, {"designation": USERS, "unknown_name": st.booleans()}),
    "sevp_decide": (1, {"petition": USERS, "approve": st.booleans()}),
    "dos_decide": (1, {"designation": USERS, "designate": st.booleans()}),
    "sevp_new_link": (1, {"user": USERS}),
    # uploads and registrations are where most refusals are: drawn more often
    "register_batch": (
        4,
        {
            "user": USERS,
            "org": USERS,
            "cert": st.sampled_from([*VALID_CERTS[:3], "seeded", *BAD_CERTS]),
            "agree": st.booleans(),
        },
    ),
    "upload": (
        4,
        {
            "user": USERS,
            "org": USERS,
            "cert": st.sampled_from(CERT_CHOICES),
            "doc": st.sampled_from(DOCS),
            "reuse": st.booleans(),
            "variant": st.integers(0, 50),
        },
    ),
    "download": (1, {"batch": USERS, "never_sent": st.booleans()}),
    "process_now": (1, {}),
    "advance_clock": (1, {}),
    "review": (3, {"user": USERS}),  # RTI's pages against its JSON: enabled late in a walk, so drawn more often
    # the procedure's next step (F/M or J), until both paths processed a batch; then the walk goes on with the
    # other actions only
    "progress": (PROGRESS_WEIGHT, {"path": st.integers(0, 2)}),
}
# when an action may be drawn (every other action always may)
ENABLED: dict[str, Callable[[Model], bool]] = {
    "set_password": lambda m: len(m.users) > 1,
    "sevp_decide": lambda m: bool(m.petitions),
    "dos_decide": lambda m: bool(m.designations),
    "advance_clock": lambda m: m.advances < MAX_ADVANCES,
    "review": lambda m: any(u.official and u.password for u in m.users),
    "progress": lambda m: not (m.done(FM_PATH) and m.done(J_PATH)),
}
DRAWS = [name for name, (weight, _) in ACTIONS.items() for _ in range(weight)]


# --- the machine ---------------------------------------------------------------------------------------------------


class ProcedureMachine(RuleBasedStateMachine):
    """Bound to a target by :func:`procedure_machine`; see the module docstring."""

    connection: Connection  # the mock's connection.json
    api: MockApi  # RTI, the consoles, the outbox and the control API
    schema: etree.XMLSchema  # the TransLog XSD every log is checked against
    clients: dict[tuple[str, str], SevisClient]  # batch clients by (certificate, key) shown
    pool: dict[str, PoolCert]
    documents: BatchDocuments
    stats: Counter  # (action as answered, outcome) -> times
    performed: Counter  # action name -> times performed (the walks' coverage of ACTIONS)
    last: list  # [the newest machine], read after a failure
    failing: list  # [the first machine whose step or invariant failed]: Hypothesis may replay a walk after
    # its failure, and a replay that passes (a timing-dependent failure) must not stand in for it
    processing_owned: bool = True  # False: the server may process batches before process-now

    def __init__(self) -> None:
        super().__init__()
        seeded = self.connection.org("F/M")
        self.model = Model(seeded.org_id, seeded.user_id)
        self.trace: list[tuple[str, dict]] = []
        self.drawable = DRAWS
        self.pages_seen: dict[tuple[str, int], str] = {}  # (kind, application number) -> state its page showed
        self.failed = False  # a step or an invariant failed: the walk ends without finish()
        self._operator_tokens: dict[str, tuple[str, float]] = {}  # kind -> (token, issued)
        self._console_pages: dict[str, requests.Session] = {}  # kind -> a console session logged in
        type(self).last[:] = [self]
        self.api.control("POST", "clock", json={"now": CLOCK.isoformat()})
        self.api.control("POST", "reset", json={"keep_clock": True})  # seeded officials logged in at CLOCK

    # --- plumbing ------------------------------------------------------------------------------------------------
    @initialize(data=st.data())
    def swarm(self, data) -> None:
        """Each walk leaves out some actions (swarm testing, as Hypothesis does with a machine's rules): a walk
        without, say, the clock or wrong passwords goes deeper, one with few kinds of action repeats them."""
        left_out = data.draw(st.sets(st.sampled_from(sorted(set(ACTIONS) - {"progress"}))), label="left out")
        self.drawable = [name for name in DRAWS if name not in left_out]

    @rule(data=st.data())
    def step(self, data) -> None:
        """One action drawn from ACTIONS (by weight, among those enabled), with its arguments."""
        enabled = [name for name in self.drawable if ENABLED.get(name, lambda m: True)(self.model)] or ["download"]
        name = data.draw(st.sampled_from(enabled), label="action")
        args = {key: data.draw(strategy, label=key) for key, strategy in ACTIONS[name][1].items()}
        if name == "progress":
            return self.do(*self.next_step(sponsor=args["path"] == 0))
        if name == "upload" and args["doc"] == "generated":
            tree = data.draw(generated_documents(), label="generated document")
            args["generated"] = etree.tostring(tree, encoding="unicode")
        self.do(name, args)

    @invariant()
    def invariants(self) -> None:
        self.check_all()

    def do(self, name: str, args: dict | None = None, **more) -> None:
        """Perform one recorded action (the unit of a replayed walk)."""
        args = {**(args or {}), **more}
        self.trace.append((name, args))
        self.performed[name] += 1
        try:
            getattr(self, f"act_{name}")(**args)
        except BaseException:
            self._failed()
            raise

    def next_step(self, sponsor: bool = False) -> tuple[str, dict]:
        return self.model.next_step(sponsor)

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

    def _expect(self, outcome: Outcome, got: int, body) -> None:
        self._answer(outcome.action, got, outcome.status, body)

    def _user(self, n: int, relevance: Callable[[User], tuple] | None = None) -> User:
        """Who acts. ``n`` >= 100: the (n-100)-th user created (the progress action names users so). Else, with
        the users ranked by ``relevance`` (those the action suits first): 0-3 the most relevant one, which
        keeps random walks deep in the procedure; 4-7 any. Deterministic in the model's state: walks replay."""
        m = self.model
        if n >= 100:
            return m.users[(n - 100) % len(m.users)]
        ranked = sorted(m.users, key=relevance) if relevance else list(m.users)
        return ranked[0] if n < 4 else ranked[(n - 4) % len(ranked)]

    def _ref(self, user: User) -> int:
        """The number that makes _user choose ``user``."""
        return self.model.ref(user)

    def _owner(self, n: int, path: ProcedurePath) -> User:
        """Who fills or submits an application: the path's temporary users first, logged-in ones first."""
        return self._user(n, lambda u: (u.role != path.temporary_role, not self.model.token_ok(u)))

    @property
    def now_date(self) -> date:
        return (CLOCK + timedelta(seconds=self.model.now)).date()

    def _rti(self, path: str) -> str:
        return f"{self.connection.rti_url()}/api/{path}"

    # --- steps 1-4: account ------------------------------------------------------------------------------------
    def act_register_account(self) -> None:
        self._register(FM_PATH)

    def act_register_sponsor_account(self) -> None:
        self._register(J_PATH)

    def _register(self, path: ProcedurePath) -> None:
        body, email = self.model.account(path)
        status, reply = self.api.answer("POST", self._rti("accounts"), body)
        self._answer(f"register_{'account' if path is FM_PATH else 'sponsor_account'}", status, 201, reply)
        self.model.account_registered(path, email, reply.get("temporary_user_id") or "")

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
        u = self._user(user, lambda u: ((u.password is not None) == newest, not u.links))
        self._sync_links()
        password = STRONG_PASSWORD if strong else WEAK_PASSWORD
        outcome, link = self.model.set_password_outcome(u, newest, strong)
        token = link.token if link is not None else "never-issued-link-token"
        status, body = self.api.answer("POST", self._rti("set-password"), {"token": token, "password": password})
        self._expect(outcome, status, body)
        if outcome.status == 400:
            expect(body.get("invalid"), "a weak password's refusal lists no rule broken")
        if outcome.status == 200 and link is not None:
            expect(
                body.get("user_id") == u.user_id, f"Set Password answered for {body.get('user_id')}, not {u.user_id}"
            )
            self.model.password_set(u, link, password)

    def act_login(self, user: int, right: bool) -> None:
        u = self._user(user, lambda u: (u.password is None, self.model.token_ok(u)))
        password = (u.password or STRONG_PASSWORD) if right else "Wrong#Pass99"
        status, body = self.api.answer("POST", self._rti("login"), {"user_id": u.user_id, "password": password})
        want = self.model.login_outcome(u, right)
        self._answer(f"login ({'right' if right else 'wrong'} password)", status, want, body)
        if status == 200:
            expect((body.get("user") or {}).get("user_id") == u.user_id, "login answered for another user")
            u.token, u.token_at = body.get("token"), self.model.now

    def act_sevp_new_link(self, user: int) -> None:
        u = self._user(user, lambda u: (not u.official, u.password is not None))
        status, body = self.api.answer(
            "POST", f"{self.connection.sevp_url}/api/accounts/{u.user_id}/password-link", token=self._operator(FM_PATH)
        )
        self._answer("SEVP sends a new Set Password link", status, 200, body)
        self.model.new_link(u, body.get("email") or "")

    # --- steps 5-10: Form I-17 or DS-3036, the Response Center or help desk, SEVP or the Department of State ---
    def act_fill_i17(self, owner: int, category: str, campuses: int, officials: int, fault: str, revise: bool) -> None:
        self._fill(FM_PATH, owner, revise, lambda app: i17_form(app, category, campuses, officials, fault))

    def act_fill_ds3036(self, owner: int, program_type: str, fault: str, revise: bool) -> None:
        self._fill(J_PATH, owner, revise, lambda app: ds3036_form(app, program_type, fault))

    def _fill(self, path: ProcedurePath, owner: int, revise: bool, form: Callable[[Application], tuple]) -> None:
        u, m = self._owner(owner, path), self.model
        latest = m.latest(u, path)
        if latest is not None and latest.state != "draft" and revise:
            url = self._rti(f"{path.api}/{latest.number}")
            status, body = self.api.answer("PUT", url, {path.name_field: latest.name}, token=u.token)
            return self._expect(m.revise_outcome(u, latest), status, body)
        draft = m.draft(u, path)
        body, missing, invalid = form(draft)
        if draft.number:
            status, reply = self.api.answer("PUT", self._rti(f"{path.api}/{draft.number}"), body, token=u.token)
        else:
            status, reply = self.api.answer("POST", self._rti(path.api), body, token=u.token)
        outcome = m.fill_outcome(u, draft)
        self._expect(outcome, status, reply)
        if status in (200, 201):
            expect(reply.get("state") == "draft", f"a {path.form} being filled is {reply.get('state')}, not draft")
            m.filled(draft, reply.get(path.id_field) or draft.number, body, missing, invalid)

    def act_submit_i17(self, owner: int) -> None:
        self._submit(FM_PATH, owner)

    def act_submit_ds3036(self, owner: int) -> None:
        self._submit(J_PATH, owner)

    def _submit(self, path: ProcedurePath, owner: int) -> None:
        u, m = self._owner(owner, path), self.model
        app = m.latest(u, path)
        number = app.number if app else 999999
        status, body = self.api.answer("POST", self._rti(f"{path.api}/{number}/submit"), token=u.token)
        outcome = m.submit_outcome(u, app, path)
        self._expect(outcome, status, body)
        if app is not None:
            m.submitted(app, outcome, body if isinstance(body, dict) else None)

    def act_response_center(self, petition: int, wrong_category: bool, unknown_name: bool) -> None:
        self._help(FM_PATH, petition, wrong_category, unknown_name)

    def act_help_desk(self, designation: int, unknown_name: bool) -> None:
        self._help(J_PATH, designation, False, unknown_name)

    def _help(self, path: ProcedurePath, n: int, wrong_category: bool, unknown_name: bool) -> None:
        m = self.model
        apps = m.of(path)
        app = apps[n % len(apps)] if apps else None
        body = m.help_request(path, app, wrong_category, unknown_name)
        status, reply = self.api.answer("POST", self._rti(path.help), body)
        outcome = m.help_outcome(path, app, wrong_category, unknown_name)
        self._expect(outcome, status, reply)
        if outcome.status == 201 and app is not None:
            expect(
                reply.get(path.id_field) == app.number,
                f"{path.help_action}: ticket linked to {path.form} {reply.get(path.id_field)}, not {app.number}",
            )
            app.tickets += 1

    def _console(self, path: ProcedurePath) -> str:
        c = self.connection
        return (c.sevp_url if path is FM_PATH else c.dos_url) or ""

    def _operator(self, path: ProcedurePath) -> str:
        """A console token of SEVP (F/M) or the Department of State (J), logged in again after 24 mock hours."""
        m = self.model
        token, issued = self._operator_tokens.get(path.kind, (None, 0.0))
        if token is None or m.now >= issued + TOKEN_LIFETIME:
            status, body = self.api.answer("POST", f"{self._console(path)}/api/login", self._operator_login(path))
            expect(status == 200, f"{path.operator} console login answered {status}")
            token = body["token"]
            self._operator_tokens[path.kind] = (token, m.now)
        return token

    def _operator_login(self, path: ProcedurePath) -> dict:
        c = self.connection
        if path is FM_PATH:
            return {"user": c.sevp_user, "password": c.sevp_password}
        return {"user": c.dos_user, "password": c.dos_password}

    def act_sevp_decide(self, petition: int, approve: bool) -> None:
        self._decide(FM_PATH, petition, approve)

    def act_dos_decide(self, designation: int, designate: bool) -> None:
        self._decide(J_PATH, designation, designate)

    def _decide(self, path: ProcedurePath, n: int, yes: bool) -> None:
        m = self.model
        apps = m.of(path)
        if not apps:
            return
        app = apps[n % len(apps)]
        verb = path.decide[0 if yes else 1]
        status, body = self.api.answer(
            "POST",
            f"{self._console(path)}/api/{path.api}/{app.number}/{verb}",
            None if yes else {"reason": f"The rehearsal rejects this {path.form}"},
            token=self._operator(path),
        )
        outcome = m.decide_outcome(app, yes)
        self._expect(outcome, status, body)
        if outcome.status == 200:
            m.decided(app, yes, body)

    # --- step 11: batch registration ----------------------------------------------------------------------------
    def act_register_batch(self, user: int, org: int, cert: str, agree: bool) -> None:
        m = self.model
        u = self._user(user, lambda u: (u.role not in ("PDSO", "RO"), not m.token_ok(u), u.batch_registered))
        org_id = m.org_choice(org, u)
        status, body = self.api.answer(
            "POST",
            self._rti("batch-registration"),
            {"org_id": org_id, "certificate": self.pool[cert].pem, "accept_agreement": agree},
            token=u.token,
        )
        outcome = m.register_batch_outcome(u, org_id, cert, agree)
        self._expect(outcome, status, body)
        if outcome.status == 400 and cert in BAD_CERTS:
            expect(body.get("field") == "certificate", f"the refusal names {body.get('field')!r}, not the certificate")
        if outcome.status == 200:
            expect(body.get("fingerprint") == self.pool[cert].fingerprint, "registration reports another fingerprint")
            m.batch_registered(u, org_id, cert)

    # --- steps 12-15: batches ----------------------------------------------------------------------------------
    def _document(self, doc: str, org_id: str, user_id: str, batch_id: str, variant: int, generated: str | None):
        """(xml, kind, principals, creates, code the document alone gets) of an upload."""
        d, n = self.documents, self.model.fresh()
        if doc == "malformed":
            return d.malformed(), doc, 0, set(), "S0012"
        if PROGRAM_NUMBER.match(org_id):  # a sponsor's program takes EV batches
            if doc in ("good", "rule-failure"):
                return self._creates(J_PATH, doc, org_id, user_id, batch_id, n)
            # a school's (F/M) batch sent to a program: the whole file is rejected
            return d.good(FM, org_id, user_id, batch_id, n, self.now_date), "fm-to-j", 0, set(), "S0013"
        if doc in ("good", "rule-failure"):
            return self._creates(FM_PATH, doc, org_id, user_id, batch_id, n)
        if doc == "generated":
            assert generated is not None
            xml, principals, creates = d.generated(etree.fromstring(generated.encode()), org_id, user_id, batch_id)
            # [i] addressing may break a generated document (e.g. a fixed value)
            return xml, doc, principals, creates, "S0000" if d.valid(xml) else "S0013"
        xml, code = d.mutant(variant, org_id, user_id, batch_id, n, self.now_date)
        return xml, doc, 0, set(), code

    def _creates(self, path: ProcedurePath, doc: str, org_id: str, user_id: str, batch_id: str, n: int):
        d = self.documents
        if doc == "good":
            xml = d.good(path.kind, org_id, user_id, batch_id, n, self.now_date)
            kind = path.good_kind
        else:
            xml, kind = d.rule_failure(path.kind, org_id, user_id, batch_id, n), path.rule_kind
        principals, creates = d.creates(xml)
        return xml, kind, principals, creates, "S0000"

    def act_upload(
        self, user: int, org: int, cert: str, doc: str, reuse: bool, variant: int, generated: str | None = None
    ) -> None:
        m = self.model
        u = self._user(user, lambda u: (not u.batch_registered, u.user_id is None))
        org_id = m.org_choice(org, u)
        presented = m.presented(org_id, u, cert)
        earlier = [b.batch_id for b in m.batches if b.org_id == org_id]
        batch_id = earlier[variant % len(earlier)] if (reuse and earlier) else f"PM{m.fresh():012d}"
        xml, kind, principals, creates, doc_code = self._document(
            doc, org_id, u.user_id or "", batch_id, variant, generated
        )
        want, refusal = m.upload_code(org_id, u, presented, batch_id, doc_code)
        code, detail = self._upload(self.pool[presented].pair, org_id, u.user_id or "", batch_id, xml)
        self._seen(f"upload {kind}", code)
        if refusal:
            self._seen(f"upload refused: {refusal}", code)
        registered = f"registered to {m.certs[presented]}" if presented in m.certs else "unregistered"
        expect(
            code == want,
            f"upload of a {doc} batch {batch_id} to {org_id} by {u.label} with certificate {presented} "
            f"({registered}) answered {code} ({detail}); SEVIS should answer {want}",
        )
        if code == "S0000":
            m.uploaded(Batch(org_id, batch_id, u, presented, kind, principals, creates))

    def act_download(self, batch: int, never_sent: bool) -> None:
        m = self.model
        if never_sent or not m.batches:
            seeded = m.users[0]
            b = Batch(seeded.org_id or "", f"PN{m.fresh():012d}", seeded, "seeded", "none", 0, set())
        else:
            b = m.batches[batch % len(m.batches)]
        code, log, detail = self._download(self.pool[b.cert].pair, b.org_id, b.user.user_id or "", b.batch_id)
        want = m.download_code(b)
        self._seen("download", code)
        if want == "S0030" and code == "S0000" and not self.processing_owned:
            return self._processed(b, log)  # a server with its own processing delay got there first
        expect(
            code == want,
            f"download of {b.batch_id} ({b.org_id}) answered {code} ({detail}); SEVIS should answer {want}",
        )
        if code == "S0000":
            results = batch_results(b, log)
            expect(
                results == b.results,
                f"{b.batch_id}: a second download gives other results ({results} after {b.results}): processed twice?",
            )

    def act_process_now(self) -> None:
        m = self.model
        queued = [b for b in m.batches if not b.processed]
        processed = self.api.control("POST", "process-now")["processed"]
        if self.processing_owned:
            expect(processed == len(queued), f"process-now processed {processed} batches; {len(queued)} were queued")
        else:
            expect(processed <= len(queued), f"process-now processed {processed} batches; only {len(queued)} queued")
        for b in queued:
            code, log, detail = self._download(self.pool[b.cert].pair, b.org_id, b.user.user_id or "", b.batch_id)
            expect(code == "S0000", f"download of processed {b.batch_id} answered {code} ({detail}); SEVIS: S0000")
            self._processed(b, log)

    def _processed(self, b: Batch, log: etree._Element) -> None:
        self.model.processed(b, batch_results(b, log))
        self._seen(f"process {b.kind}", log.find("BatchDetail/Process").get("resultCode"))

    def act_advance_clock(self) -> None:
        self.act_process_now()  # what is queued is processed on the day it was sent
        self.api.control("POST", "clock", json={"advance_seconds": ADVANCE})
        self.model.advanced()

    # --- review: RTI's pages against its JSON -----------------------------------------------------------------
    def act_review(self, user: int) -> None:
        """An official logs in to RTI (JSON and page) and reads Batches and Records both ways."""
        officials = [u for u in self.model.users if u.official and u.password]
        if not officials:
            return
        u, m = officials[user % len(officials)], self.model
        self.act_login(self._ref(u), True)
        if not m.token_ok(u):
            return
        pages, _ = self._page_login(u)
        try:
            visible = m.visible_orgs(u)
            status, body = self.api.answer("GET", self._rti("batches"), token=u.token)
            expect(status == 200, f"RTI batches answered {status}")
            listed = sorted(
                (b["batch_id"], b["org_id"], b["state"], b.get("process_code") or "") for b in body["batches"]
            )
            expected = sorted((b.batch_id, b.org_id) for b in m.batches if b.org_id in visible)
            expect([x[:2] for x in listed] == expected, f"RTI batches {listed}; model {expected}")
            rows = self._table(pages, f"{self.connection.rti_url()}/batches", "batches")
            shown = sorted((r[0], r[1], r[4], r[5]) for r in rows)
            expect(shown == listed, f"the Batches page shows {shown}; the JSON API {listed}")
            status, body = self.api.answer("GET", self._rti("records"), token=u.token)
            expect(status == 200, f"RTI records answered {status}")
            records = sorted((r["sevis_id"], r["status"]) for r in body["records"])
            expect(
                len(records) == sum(m.records[o] for o in visible),
                f"RTI lists {len(records)} records for {sorted(visible)}; the model {dict(m.records)}",
            )
            shown = sorted((r[0], r[2]) for r in self._table(pages, f"{self.connection.rti_url()}/records", "records"))
            expect(shown == records, f"the Records page shows {shown}; the JSON API {records}")
            self._seen("review", "pages agree")
        finally:
            pages.close()
        self._review_i17()

    def _review_i17(self) -> None:
        """The college that filed the newest I-17 reads its petitions: JSON, the I-17 page and the model agree."""
        m = self.model
        owners = [p.owner for p in m.petitions if p.owner.password]
        if not owners:
            return
        u = owners[-1]
        self.act_login(self._ref(u), True)
        if not m.token_ok(u):
            return
        status, body = self.api.answer("GET", self._rti("petitions"), token=u.token)
        expect(status == 200, f"RTI petitions answered {status}")
        listed = sorted(
            (p["petition_id"], p.get("school_name") or "", p["state"], p.get("school_code") or "")
            for p in body["petitions"]
        )
        expected = sorted(
            (p.number, p.body.get("school_name") or "", p.state, p.codes[0] if p.codes else "")
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
                for r in self._table(pages, f"{self.connection.rti_url()}/i17", "petitions")
            )
            expect(shown == listed, f"the Form I-17 page shows {shown}; the JSON API {listed}")
            self._seen("review I-17", "pages agree")
        finally:
            pages.close()

    def _page_login(self, u: User) -> tuple[requests.Session, bool]:
        """``u`` logs in through RTI's login page (a login like any other for the model); the page must
        redirect exactly when the model says the login succeeds."""
        login = f"{self.connection.rti_url()}/login"
        pages, status = page_session(self.api.verify, login, {"user_id": u.user_id, "password": u.password})
        want = self.model.login_outcome(u, True)
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

    # --- invariants ----------------------------------------------------------------------------------------
    def _outbox(self) -> list[dict]:
        c = self.connection
        status, body = self.api.answer("GET", f"{c.outbox_url}/api/messages", token=c.control_token)
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
        m = self.model
        if not self.processing_owned and any(not b.processed for b in m.batches):
            self.act_process_now()  # a server processing on its own: settle before counting records
        messages = self._outbox()
        held = Counter((msg["to"], msg["kind"]) for msg in messages)
        expect(
            held == m.emails,
            f"the outbox holds {dict(held - m.emails)} more and {dict(m.emails - held)} fewer e-mails than SEVIS sends",
        )
        self._sync_links(messages)
        records = self.api.control("GET", "records")["records"]
        per_org = Counter(r["org_id"] for r in records)
        expect(
            +per_org == +m.records,
            f"records per organization {dict(per_org)}; the model (created by accepted, "
            f"processed batches) {dict(+m.records)}",
        )
        for path in (J_PATH, FM_PATH):
            self._check_applications(path)

    def _check_applications(self, path: ProcedurePath) -> None:
        """The console's JSON list of I-17s (SEVP) or DS-3036s (the Department of State) equals the model:
        state, tickets and (J) program number; each application's console page shows the same state."""
        apps = self.model.of(path)
        if not apps:
            return
        status, body = self.api.answer("GET", f"{self._console(path)}/api/{path.api}", token=self._operator(path))
        expect(status == 200, f"the {path.operator} console's {path.api} answered {status}")
        got = {
            x[path.id_field]: (x["state"], len(x.get(path.help_action) or []), x.get("program_number"))
            for x in body[path.api]
        }
        want = {a.number: (a.state, a.tickets, a.program) for a in apps}
        expect(
            got == want, f"the {path.operator} console's {path.form}s (state, tickets, program) {got}; the model {want}"
        )
        for a in apps:
            if self.pages_seen.get((path.kind, a.number)) != a.state:
                shown = self._console_page_state(path, a.number)
                expect(
                    shown == a.state,
                    f"the {path.operator} page of {path.form} {a.number} shows {shown!r}; JSON and model {a.state!r}",
                )
                self.pages_seen[(path.kind, a.number)] = a.state

    def _console_page_state(self, path: ProcedurePath, number: int) -> str:
        console = self._console(path)
        for _ in range(2):
            if path.kind not in self._console_pages:
                self._console_pages[path.kind], _ = page_session(
                    self.api.verify, f"{console}/login", self._operator_login(path)
                )
            pages = self._console_pages[path.kind]
            r = pages.get(f"{console}/{path.api}/{number}", timeout=60, allow_redirects=False)
            if r.status_code == 200:
                heading = " ".join(lhtml.fromstring(r.content).findtext(".//h1").split())
                return heading.rsplit("—", 1)[-1].strip()
            pages.close()
            del self._console_pages[path.kind]  # the session ended (e.g. reset): log in again
        return f"HTTP {r.status_code}"

    # --- the batch interface, one SevisClient per certificate shown ----------------------------------------
    def _client(self, pair: tuple[str, str]) -> SevisClient:
        if pair not in self.clients:
            c = self.connection
            self.clients[pair] = SevisClient(c.base_url, cert=pair, ca_bundle=c.ca_cert or True, environment="beta")
        return self.clients[pair]

    def _valid_log(self, xml: bytes) -> etree._Element:
        doc = etree.fromstring(xml)
        if not self.schema.validate(doc.getroottree()):
            raise ProcedureMismatch(
                f"transaction log invalid against the TransLog XSD: {self.schema.error_log}\n"
                f"{xml.decode(errors='replace')[:3000]}"
            )
        return doc

    def _upload(self, pair, org_id: str, user_id: str, batch_id: str, xml: bytes) -> tuple[str, str]:
        """(Upload resultCode, the mock's explanation) of an upload showing certificate ``pair``."""
        try:
            result = self._client(pair).upload(xml, org_id=org_id, user_id=user_id, batch_id=batch_id)
        except SevisHTTPError as exc:
            raise ProcedureMismatch(f"batchUpload answered HTTP {exc.status}, not 200: {exc}") from exc
        log = self._valid_log(result.log.xml)
        return log.find("BatchDetail/Upload").get("resultCode"), result.detail or ""

    def _download(self, pair, org_id: str, user_id: str, batch_id: str) -> tuple[str, etree._Element, str]:
        """(Download resultCode, the log, the mock's explanation); the reply must be a zip."""
        try:
            result = self._client(pair).download(org_id=org_id, user_id=user_id, batch_id=batch_id)
        except SevisHTTPError as exc:
            raise ProcedureMismatch(f"batchDownload answered HTTP {exc.status}, not 200: {exc}") from exc
        expect(result.zip_bytes is not None, f"batchDownload of {batch_id} answered bare XML, not a zip")
        log = self._valid_log(result.log.xml)
        return log.find("BatchDetail/Download").get("resultCode"), log, result.detail or ""

    @classmethod
    def close(cls) -> None:
        """Close the clients of a bound machine class."""
        cls.api.close()
        for client in cls.clients.values():
            client.close()

    def teardown(self) -> None:
        try:
            if not self.failed:
                self.finish()
        finally:
            for pages in self._console_pages.values():
                pages.close()


def procedure_machine(
    connection: Connection, translog_schema: etree.XMLSchema, work_dir: Path, *, processing_owned: bool = True
) -> type[ProcedureMachine]:
    """A machine class bound to the mock ``connection`` describes (its data dir's CA must be readable:
    certificates are issued). ``processing_owned``: the mock runs with a long processing delay, so only
    process-now processes. Call ``close()`` on the class when done."""
    connection.require("rti", "sevp", "outbox", "control", "organizations", "ca_cert")
    seeded = connection.org("F/M")
    assert connection.ca_dir is not None

    class Bound(ProcedureMachine):
        pass

    Bound.connection, Bound.schema, Bound.clients = connection, translog_schema, {}
    Bound.api = MockApi.for_connection(connection, control_cert=seeded.cert)
    Bound.pool = issue_pool(connection.ca_dir, Path(work_dir) / "procedure-certs", seeded)
    Bound.documents = BatchDocuments()
    Bound.stats, Bound.performed, Bound.last, Bound.failing = Counter(), Counter(), [], []
    Bound.processing_owned = processing_owned
    Bound.__name__ = Bound.__qualname__ = "SevisProcedure"
    return Bound


def replay(
    machine_class: type[ProcedureMachine], steps: list[tuple[str, dict]], invariants: bool = True
) -> ProcedureMachine:
    """Run recorded steps again, checking the invariants after each (only the steps' own answers with
    ``invariants=False``, about three times cheaper); raises at the first mismatch."""
    machine = machine_class()
    if invariants:
        machine.check_all()
    try:
        for name, args in steps:
            machine.do(name, args)
            if invariants:
                machine.check_all()
    finally:
        machine.teardown()
    return machine


def translog_schema(path: Path | None = None) -> etree.XMLSchema:
    """The TransLog XSD every log is checked against: ``path`` (e.g. ICE's official SevisTransLog.xsd) when
    given, else the project's own copy (nothing installed reads files outside the package)."""
    from sevis_mock.schemas import schema_for_root

    return etree.XMLSchema(etree.parse(str(path or schema_for_root("TransactionLog"))))
