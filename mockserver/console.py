"""What the two operator consoles share: SEVP's (Form I-17 petitions, ``/sevp``) and the Department of
State's (Form DS-3036 designations, ``/dos``).

Each console is a :class:`Console` (its name, title, the form it reviews) whose :meth:`Console.blueprint` has
the common part: pages behind a cookie session with CSRF, JSON under ``/<name>/api`` with a bearer token from
``POST /<name>/api/login``, the login and logout pages, a listing by state, one form with its tickets, and the
rejection. The console modules add their own decision (approve, designate) and pages.

[i] One operator (user and password in connection.json under ``sevp``, the same under ``dos``) works both
consoles, under one failed-login limit: the 5th failure in a row locks both for 30 minutes of mock-clock time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from .store import Setting
from .rti import accounts
from .rti.applications import FormKind
from .rti.errors import RtiError
from .keys import operator_credentials
from .rti.web import auto_approve, bearer, check_csrf, deliver_mail, json_body, json_error, mock, smtp_on

FAILED = "sevp_failed_logins"  # Settings shared by every worker: failures in a row, and the lock's end
LOCKED_UNTIL = "sevp_locked_until"


def _credentials_ok(user: str, password: str) -> bool:
    creds = operator_credentials(mock().settings.data_dir)
    return hmac.compare_digest(user.encode(), creds["user"].encode()) & hmac.compare_digest(
        password.encode(), creds["password"].encode()
    )


def operator_login(user: str, password: str) -> None:
    """Check the operator's credentials with the same limit RTI users have: the 5th failure in a row
    locks the console for 30 minutes of mock-clock time (HTTP 429); a success clears the count."""
    m = mock()
    now = m.clock.now()
    with m.store.write() as s:
        failed = s.get(Setting, FAILED) or Setting(key=FAILED, value="0")
        locked = s.get(Setting, LOCKED_UNTIL)
        if locked is not None and locked.value:
            until = datetime.fromisoformat(locked.value)
            if now < until:
                raise RtiError(
                    429,
                    "SEVP console: too many failed logins; locked until "
                    f"{until.isoformat(timespec='minutes')} UTC (mock clock)",
                )
            locked.value, failed.value = "", "0"
        if _credentials_ok(user, password):
            failed.value = "0"
            s.merge(failed)
            return
        failed.value = str(int(failed.value) + 1)
        s.merge(failed)
        if int(failed.value) >= accounts.MAX_FAILED_LOGINS:
            s.merge(Setting(key=LOCKED_UNTIL, value=(now + accounts.LOCK_TIME).isoformat()))
            s.merge(Setting(key=FAILED, value="0"))
            error = RtiError(
                429,
                f"SEVP console: {accounts.MAX_FAILED_LOGINS} failed logins in a row; locked "
                f"until {(now + accounts.LOCK_TIME).isoformat(timespec='minutes')} UTC (mock clock)",
            )
        else:
            error = RtiError(
                401, "SEVP console: wrong user or password (see sevp in connection.json)", field="password"
            )
    raise error


@dataclass(frozen=True)
class Console:
    """One operator console, by the form it reviews."""

    name: str  # "sevp" | "dos": URL prefix, token kind, session and Setting keys
    title: str  # "SEVP console" | "Department of State console"
    heading: str  # its pages' heading: "SEVP operator console" | "Department of State designation console"
    kind: FormKind  # the form it reviews: rti.petitions.I17 | rti.designations.DS3036
    noun: str  # how a 404 names one form: "I-17 petition" | "DS-3036"
    states: tuple[str, ...]
    home: str  # the listing page's endpoint, where a login lands
    wrong_login: str  # the login page's words for a wrong user or password

    @property
    def generation(self) -> str:
        """The Setting that logging out bumps, ending every session of this console."""
        return f"{self.name}_session_generation"

    # --- who is asking ----------------------------------------------------------------------------------------

    def is_api(self) -> bool:
        return request.path.startswith(f"/{self.name}/api/")

    def api_operator(self) -> str:
        m = mock()
        token = bearer()
        with m.store.session() as s:
            subject = accounts.token_subject(s, token, self.name, m.clock.now()) if token else None
        if subject is None:
            raise RtiError(
                401,
                f"{self.title}: log in first (POST /{self.name}/api/login with the {self.name} user and password "
                "from connection.json), then send Authorization: Bearer <token>",
            )
        return subject

    def page_operator(self) -> str | None:
        """The operator logged in to the console pages by this request's session cookie, or None."""
        if session.get(f"{self.name}_generation") != mock().store.get_setting(self.generation, "0"):
            return None
        return session.get(f"{self.name}_operator")

    # --- the forms it reviews ---------------------------------------------------------------------------------

    def one(self, s: Session, form_id: int) -> Any:
        found = s.get(self.kind.table, form_id)
        if found is None:
            raise RtiError(404, f"no {self.noun} {form_id}")
        return found

    def full(self, s: Session, form: Any) -> dict:
        return self.kind.with_tickets(s, form)

    def listing(self, state: str | None) -> list[dict]:
        if state and state not in self.states:
            raise RtiError(400, f"state: {state!r} is not one of {', '.join(self.states)}", field="state")
        with mock().store.session() as s:
            table = self.kind.table
            query = select(table).order_by(table.id)
            if state:
                query = query.where(table.state == state)
            return [self.full(s, form) for form in s.scalars(query)]

    def reject(self, form_id: int, reason: str) -> dict:
        m = mock()
        with m.store.write() as s:
            rejected = self.kind.reject(s, self.one(s, form_id), reason, m.clock.now(), smtp_on())
            return self.kind.as_json(rejected)

    # --- the blueprint ----------------------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        """The console's blueprint with what both consoles serve: hooks, login and logout (JSON and pages)."""
        bp = Blueprint(self.name, __name__, url_prefix=f"/{self.name}")

        @bp.before_request
        def _before() -> None:
            auto_approve()
            if not self.is_api():
                check_csrf()

        bp.after_request(deliver_mail)

        @bp.errorhandler(RtiError)
        def _refused(err: RtiError) -> ResponseReturnValue:
            if self.is_api():
                return json_error(err)
            return render_template("error.html", error=err, console=True), err.status

        @bp.post("/api/login")
        def api_login() -> ResponseReturnValue:
            body = json_body()
            operator_login(str(body.get("user") or ""), str(body.get("password") or ""))
            m = mock()
            with m.store.write() as s:
                token = accounts.issue_token(s, self.name, str(body["user"]), m.clock.now())
            return jsonify({"token": token})

        @bp.post("/api/logout")
        def api_logout() -> ResponseReturnValue:
            with mock().store.write() as s:
                accounts.revoke_token(s, bearer())
            return jsonify({"logged_out": True})

        @bp.route("/login", methods=["GET", "POST"])
        def login_page() -> ResponseReturnValue:
            error = None
            status = 200
            if request.method == "POST":
                try:
                    operator_login(request.form.get("user", ""), request.form.get("password", ""))
                except RtiError as refused:
                    status = refused.status
                    error = self.wrong_login if status == 401 else refused.message
                else:
                    session.clear()
                    session[f"{self.name}_operator"] = request.form["user"]
                    session[f"{self.name}_generation"] = mock().store.get_setting(self.generation, "0")
                    return redirect(url_for(self.home))
            return render_template("console_login.html", console=self, error=error), status

        @bp.post("/logout")
        def logout_page() -> ResponseReturnValue:
            if self.page_operator():
                mock().store.update_setting(self.generation, lambda old: str(int(old or "0") + 1))
            session.clear()
            flash(f"You are logged out of the {self.title}.")
            return redirect(url_for(f"{self.name}.login_page"))

        return bp
