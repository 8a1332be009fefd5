"""`sevis-mock rehearse --chaos`: a college's upload/download client against SEVIS's bad days.

A scenario's faults (``sevis-bad-day`` unless told otherwise) are put in force on an embedded or running
mock; the college's own program (``--client-command``) or the built-in retrying client uploads one batch
and downloads its results; then the request journal -- what the mock saw, not what the client says --
decides whether the client recovered:

* ``recovered``: the batch was accepted and its processed transaction log was downloaded;
* ``retried``: every request a transient fault answered (S0001, S0003, an HTTP error page, a reset or cut
  connection, a broken zip, maintenance, a refused handshake) was tried again;
* ``no-resubmission``: no batch ID was uploaded again after SEVIS's S0000 for it reached the client, nor
  after S0002 or S0010-S0013, which cancel a batch (SEVIS's guidance; PROTOCOL §2);
* ``polled-S0030``: every "not yet processed" (S0030) was followed by another download, not given up on;
* ``client-exit``: the client's program ended with exit code 0 (or the built-in client finished).

A batch the scenario defers to the night is processed once the client has polled it S0030 three times
(the rehearsal fast-forwards the night; it does not wait until 02:00).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .api import MockApi, MockControlError
from .connection import Connection, ConnectionFileError, SevisOrg, connection_path, load_connection
from .client import (
    SevisClient,
    SevisConnectionError,
    SevisError,
    SevisHTTPError,
    SevisProtocolError,
)

DEFAULT_SCENARIO = "sevis-bad-day"
RETRY_UPLOAD = ("S0001", "S0003")  # SEVIS's catch-all and user refusals: retry after a cooldown
CANCEL_UPLOAD = ("S0002", "S0010", "S0011", "S0012", "S0013")  # the batch as sent will never be accepted
TRANSIENT_DISPOSITIONS = ("connection reset", "body cut mid-stream", "TLS handshake failure")


class ChaosError(RuntimeError):
    """The rehearsal could not be set up (no control API, unknown scenario); the message says what to fix."""


# --- the built-in client: what SEVIS's guidance asks of a client ----------------------------------------


@dataclass
class RetryPolicy:
    attempts: int = 12
    cooldown: float = 1.0  # seconds between tries (SEVIS's advice is minutes; a rehearsal scales it down)
    max_wait: float = 5.0  # at most this long for a Retry-After
    poll_interval: float = 0.5
    timeout: float = 120.0

    @classmethod
    def scaled(cls, cooldown: float = 1.0, **more: float) -> "RetryPolicy":
        """The policy with ``cooldown`` seconds between tries, a Retry-After honoured up to 5 times that and
        polls half that apart, 50 ms at least (``rehearse --chaos --chaos-cooldown``)."""
        # polls at least 50 ms apart: a cooldown of 0 must not turn polling into a busy loop against the mock
        return cls(cooldown=cooldown, max_wait=5 * cooldown, poll_interval=max(0.05, cooldown / 2), **more)


@dataclass
class ClientReport:
    uploads: int = 0
    downloads: int = 0
    events: list[str] = field(default_factory=list)
    accepted: bool = False
    processed: bool = False
    error: str | None = None


def builtin_client(
    client: SevisClient,
    xml: bytes,
    *,
    org_id: str,
    user_id: str,
    batch_id: str,
    policy: RetryPolicy | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> ClientReport:
    """Upload ``xml`` until SEVIS accepts it (or refuses it for good), then download until processed."""
    policy = policy or RetryPolicy()
    report = ClientReport()

    def note(line: str) -> None:
        report.events.append(line)
        say(line)

    uncertain = False  # an earlier try may have been accepted without the reply reaching us
    for attempt in range(1, policy.attempts + 1):
        report.uploads += 1
        try:
            result = client.upload(xml, org_id=org_id, user_id=user_id, batch_id=batch_id)
        except SevisHTTPError as exc:
            note(f"upload {attempt}: HTTP {exc.status}; retrying")
            time.sleep(_wait(exc, policy))
            continue
        except SevisError as exc:
            uncertain = True
            note(f"upload {attempt}: {type(exc).__name__}: {str(exc)[:120]}; retrying")
            time.sleep(policy.cooldown)
            continue
        code = result.code
        if code == "S0000":
            note(f"upload {attempt}: S0000 accepted")
            report.accepted = True
            break
        if code == "S0010" and uncertain:
            note(f"upload {attempt}: S0010: an earlier try was accepted after all; downloading")
            report.accepted = True
            break
        if code in RETRY_UPLOAD:
            note(f"upload {attempt}: {code}; retrying after a cooldown")
            time.sleep(policy.cooldown)
            continue
        note(f"upload {attempt}: {code}; the batch is cancelled (SEVIS will not accept it as sent)")
        report.error = f"upload refused with {code}"
        return report
    else:
        report.error = f"no upload accepted in {policy.attempts} tries"
        return report

    deadline = time.monotonic() + policy.timeout
    while time.monotonic() < deadline:
        report.downloads += 1
        n = report.downloads
        try:
            result = client.download(org_id=org_id, user_id=user_id, batch_id=batch_id)
        except SevisHTTPError as exc:
            note(f"download {n}: HTTP {exc.status}; retrying")
            time.sleep(_wait(exc, policy))
            continue
        except (SevisProtocolError, SevisConnectionError, SevisError) as exc:
            note(f"download {n}: {type(exc).__name__}: {str(exc)[:120]}; retrying")
            time.sleep(policy.cooldown)
            continue
        code = result.code
        if code == "S0030":
            note(f"download {n}: S0030 not yet processed; polling")
            time.sleep(policy.poll_interval)
            continue
        if code == "S0000" and result.log.process is not None:
            note(f"download {n}: S0000 with Process {result.log.process.code}")
            report.processed = True
            return report
        if code in ("S0001", "S0003", None) or (code == "S0000" and result.log.process is None):
            note(f"download {n}: {code or 'no Download code'} without a Process part; retrying")
            time.sleep(policy.cooldown)
            continue
        note(f"download {n}: {code}; giving up")
        report.error = f"download refused with {code}"
        return report
    report.error = f"not processed within {policy.timeout:g} s"
    return report


def _wait(exc: SevisHTTPError, policy: RetryPolicy) -> float:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None:
        return policy.cooldown
    return min(max(retry_after, 0.0), policy.max_wait)


# --- the rehearsal --------------------------------------------------------------------------------------


class Control:
    """The mock's control API through the harness's JSON client, with a certificate no certificate fault refuses;
    a refusal is a :class:`ChaosError`."""

    def __init__(self, connection: Connection, data_dir: Path | None) -> None:
        from sevis_mock._server import control_certificate

        cert = control_certificate(data_dir) if data_dir is not None else None
        self.api = MockApi.for_connection(connection, control_cert=cert)

    def __call__(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            return self.api.control(method, path, json=json, params=params)
        except MockControlError as exc:
            raise ChaosError(f"control API: {exc}") from exc

    def close(self) -> None:
        self.api.close()


@dataclass
class Check:
    id: str
    ok: bool
    detail: str


@dataclass
class ChaosResult:
    scenario: str
    batch_id: str
    org_id: str
    checks: list[Check]
    client: ClientReport | None
    client_output: str
    faults: list[dict]
    journal: list[dict]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "verdict": "passed" if self.ok else "failed",
            "scenario": self.scenario,
            "batch_id": self.batch_id,
            "org_id": self.org_id,
            "checks": [c.__dict__ for c in self.checks],
            "client": self.client.__dict__ if self.client else None,
            "client_output": self.client_output,
            "faults": self.faults,
            "journal": self.journal,
            "seconds": round(self.seconds, 2),
        }


def load_scenario(control: Control, scenario: str) -> list[dict]:
    """Clear the mock's faults and put ``scenario`` (a shipped name or a YAML file) in force."""
    control("DELETE", "faults")
    path = Path(scenario)
    if path.is_file():
        return control("POST", "scenarios", json={"yaml": path.read_text(encoding="utf-8")})["faults"]
    return control("POST", "scenarios", json={"name": scenario})["faults"]


def run_chaos(
    connection: Connection,
    data_dir: Path | None,
    xml: bytes,
    *,
    scenario: str = DEFAULT_SCENARIO,
    client_command: str | None = None,
    environment: str = "beta",
    timeout: float = 180.0,
    cooldown: float = 1.0,
    say: Callable[[str], None] = print,
) -> ChaosResult:
    from .rehearsal.readdress import readdress

    started = time.monotonic()
    control = Control(connection, data_dir)
    try:
        org = connection.org("F/M")
        batch_id = "CHAOS" + format(int(time.time() * 1000) % 10**9, "09d")
        xml, _ = readdress(xml, org_id=org.org_id, user_id=org.user_id, batch_id=batch_id, source="batch")
        tls = {"action": "tls"}  # refused handshakes carry no batch ID: those after this mark are this run's
        mark = max((e["id"] for e in control("GET", "journal", params=tls)["entries"]), default=0)
        loaded = load_scenario(control, scenario)
        say(f"scenario {scenario}: {len(loaded)} fault(s) in force; batch {batch_id} of {org.org_id}")
        night = _NightWatch(control, org.org_id, batch_id)
        night.start()
        try:
            if client_command:
                report = None
                exit_ok, output_text = _run_command(
                    client_command, connection, org, batch_id, xml, environment, timeout, cooldown
                )
                exit_detail = output_text.splitlines()[0]
            else:
                with SevisClient.for_org(connection, org, environment=environment, timeout=30) as client:
                    report = builtin_client(
                        client,
                        xml,
                        org_id=org.org_id,
                        user_id=org.user_id,
                        batch_id=batch_id,
                        policy=RetryPolicy.scaled(cooldown, timeout=timeout),
                        say=lambda line: say(f"  client: {line}"),
                    )
                exit_ok = report.error is None
                exit_detail = report.error or "finished"
                output_text = "\n".join(report.events)
        finally:
            night.stop()
        faults = control("GET", "faults")["faults"]
        entries = _settled_journal(control, batch_id, mark)
        control("DELETE", "faults")
    finally:
        control.close()
    checks = judge(entries, faults, batch_id) + [Check("client-exit", exit_ok, exit_detail)]
    return ChaosResult(
        scenario, batch_id, org.org_id, checks, report, output_text, faults, entries, time.monotonic() - started
    )


def _settled_journal(control: Control, batch_id: str, mark: int, patience: float = 5.0) -> list[dict]:
    """This run's journal entries once they stop changing (each server process writes its own in the background)."""

    def read() -> list[dict]:
        tls = {"action": "tls"}
        found = control("GET", "journal", params={"batch": batch_id})["entries"] + [
            e for e in control("GET", "journal", params=tls)["entries"] if e["id"] > mark
        ]
        return sorted(found, key=lambda e: e["id"])

    entries, deadline = read(), time.monotonic() + patience
    while time.monotonic() < deadline:
        time.sleep(0.3)
        again = read()
        if again == entries:
            break
        entries = again
    return entries


class _NightWatch(threading.Thread):
    """Processes a batch a fault deferred to the night once the client has polled it S0030 three times."""

    def __init__(self, control: Control, org_id: str, batch_id: str) -> None:
        super().__init__(daemon=True)
        self.control, self.org_id, self.batch_id = control, org_id, batch_id
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                polls = self.control("GET", "journal", params={"batch": self.batch_id, "action": "download"})
                if sum(1 for e in polls["entries"] if e["disposition"] == "S0030") >= 3:
                    self.control("POST", "process-now")
            except ChaosError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


def _run_command(
    command: str,
    connection: Connection,
    org: SevisOrg,
    batch_id: str,
    xml: bytes,
    environment: str,
    timeout: float,
    cooldown: float = 1.0,
) -> tuple[bool, str]:
    from sevis_mock.server.config import ENVIRONMENTS

    prefix = ENVIRONMENTS.get(environment, ENVIRONMENTS["beta"])[0]
    with tempfile.TemporaryDirectory(prefix="sevis-chaos-") as work:
        batch_file = Path(work) / f"{batch_id}.xml"
        batch_file.write_bytes(xml)
        out_dir = Path(work) / "out"
        out_dir.mkdir()
        env = dict(os.environ)
        env.update(
            {
                "SEVIS_BASE_URL": f"{connection.base_url}/{prefix}",
                "SEVIS_UPLOAD_URL": f"{connection.base_url}/{prefix}/action/batchUpload",
                "SEVIS_DOWNLOAD_URL": f"{connection.base_url}/{prefix}/action/batchDownload",
                "SEVIS_ORG_ID": org.org_id,
                "SEVIS_USER_ID": org.user_id,
                "SEVIS_BATCH_ID": batch_id,
                "SEVIS_BATCH_FILE": str(batch_file),
                "SEVIS_CERT": org.client_cert or "",
                "SEVIS_KEY": org.client_key or "",
                "SEVIS_CA": connection.ca_cert or "",
                "SEVIS_OUT_DIR": str(out_dir),
                "SEVIS_COOLDOWN": f"{cooldown:g}",  # seconds between tries the rehearsal asks of the client
            }
        )
        try:
            done = subprocess.run(
                shlex.split(command), env=env, capture_output=True, text=True, timeout=timeout, cwd=os.getcwd()
            )
        except FileNotFoundError as exc:
            raise ChaosError(f"--client-command: {exc}") from exc
        except subprocess.TimeoutExpired:
            return False, f"the client command did not finish within {timeout:g} s"
        output = (done.stdout + done.stderr)[-4000:]
        return done.returncode == 0, f"exit code {done.returncode}" + (f"\n{output}" if output.strip() else "")


# --- the judge: what the journal shows -----------------------------------------------------------------


def _transient(entry: dict, kinds: dict[int, dict]) -> bool:
    """A request answered by a fault that a client should simply try again."""
    if entry["disposition"] in TRANSIENT_DISPOSITIONS or entry["disposition"].startswith("HTTP"):
        return True
    for fault_id in entry["faults"]:
        fault = kinds.get(fault_id, {})
        respond = fault.get("respond", {})
        if fault.get("kind") in ("zip", "maintenance", "http_status", "connection"):
            return True
        if respond.get("disposition") in RETRY_UPLOAD:
            return True
    return entry["disposition"].split(" ")[0] in RETRY_UPLOAD


def judge(entries: list[dict], faults: list[dict], batch_id: str) -> list[Check]:
    kinds = {f["id"]: f for f in faults}
    mine = [e for e in entries if e["batch_id"] == batch_id or e["action"] == "tls"]
    uploads = [e for e in mine if e["action"] == "upload"]
    downloads = [e for e in mine if e["action"] == "download"]

    def later(entry, action=None):
        return [e for e in mine if e["id"] > entry["id"] and (action is None or e["action"] == action)]

    accepted = [e for e in uploads if e["disposition"] == "S0000"]
    final = downloads[-1] if downloads else None
    recovered = bool(accepted) and final is not None and final["disposition"] == "S0000" and bool(final["process_code"])
    checks = [
        Check(
            "recovered",
            recovered,
            f"{len(uploads)} upload(s), {len(downloads)} download(s); "
            + (
                f"accepted, and the log with Process {final['process_code']} downloaded"
                if recovered
                else "the batch was never accepted"
                if not accepted
                else "the processed log was never downloaded"
            ),
        )
    ]
    unretried = [
        e for e in mine if _transient(e, kinds) and not later(e, e["action"] if e["action"] != "tls" else None)
    ]
    checks.append(
        Check(
            "retried",
            not unretried,
            "every transient failure was tried again"
            if not unretried
            else "not tried again after: " + "; ".join(f"{e['action']} {e['disposition']}" for e in unretried),
        )
    )
    resubmitted = [
        e
        for e in uploads
        if (e["disposition"] == "S0000" or e["disposition"].split(" ")[0] in CANCEL_UPLOAD) and later(e, "upload")
    ]
    checks.append(
        Check(
            "no-resubmission",
            not resubmitted,
            "no batch ID was sent again after SEVIS accepted or cancelled it"
            if not resubmitted
            else "uploaded again after: " + "; ".join(e["disposition"] for e in resubmitted),
        )
    )
    pending = [e for e in downloads if e["disposition"] == "S0030"]
    abandoned = [e for e in pending if not later(e, "download")]
    checks.append(
        Check(
            "polled-S0030",
            not abandoned,
            f"{len(pending)} S0030 answer(s), each followed by another download"
            if not abandoned
            else "gave up polling after S0030 (S0030 means: not yet processed, ask again later)",
        )
    )
    return checks


def write_json(result: ChaosResult, path: Path) -> None:
    path.write_text(json.dumps(result.to_dict(), indent=2))


# --- the command line --------------------------------------------------------------------------------


def cli_chaos(
    scenario, client_command, server, connection, data_dir, batch, environment, timeout, json_file, cooldown=1.0
) -> int:
    """``rehearse --chaos``: exit code 0 when the client recovered, 1 when not, 2 on usage errors."""
    import click

    from .rehearsal.sample import sample_batch

    scenario = scenario or DEFAULT_SCENARIO
    started = time.monotonic()
    embedded = None
    try:
        if server:
            path, _ = connection_path(connection)
            try:
                details = load_connection(path)
            except ConnectionFileError as exc:
                click.echo(f"--connection: {exc}", err=True)
                return 2
            details = dataclasses.replace(details, base_url=server.rstrip("/"))
            mock_dir = path.parent
        else:
            from .rehearsal.embedded import EmbeddedMock, EmbeddedMockError

            embedded = EmbeddedMock(data_dir)
            try:
                details = embedded.start()
            except EmbeddedMockError as exc:
                click.echo(str(exc), err=True)
                return 1
            mock_dir = embedded.data_dir
        try:
            result = run_chaos(
                details,
                mock_dir,
                batch or sample_batch(),
                scenario=scenario,
                client_command=client_command,
                environment=environment,
                timeout=timeout,
                cooldown=cooldown,
                say=click.echo,
            )
        except ChaosError as exc:
            click.echo(f"rehearse --chaos: {exc}", err=True)
            return 2
    finally:
        if embedded is not None:
            embedded.cleanup()
    for check in result.checks:
        click.echo(f"{'PASS' if check.ok else 'FAIL'}  {check.id:<16} {check.detail.splitlines()[0]}")
    acted = [f for f in result.faults if f["hits"]]
    click.echo(
        "faults that acted: "
        + (", ".join(f"#{f['id']} {f['kind']} {json.dumps(f['respond'])} x{f['hits']}" for f in acted) or "none")
    )
    verdict = "RECOVERED" if result.ok else "DID NOT RECOVER"
    click.echo(f"{verdict}: scenario {result.scenario}, batch {result.batch_id}, {time.monotonic() - started:.1f} s")
    if json_file:
        write_json(result, Path(json_file))
    return 0 if result.ok else 1


def main() -> int:
    """``python -m sevis_mock.harness.chaos``: the built-in client as a program, reading the ``SEVIS_*`` variables that
    ``rehearse --chaos --client-command`` sets (a model for a college's own client)."""
    env = os.environ
    base, _, _ = env["SEVIS_UPLOAD_URL"].rpartition("/action/")
    root, _, prefix = base.rpartition("/")
    with SevisClient(
        root, cert=(env["SEVIS_CERT"], env["SEVIS_KEY"]), ca_bundle=env["SEVIS_CA"], environment=prefix
    ) as c:
        report = builtin_client(
            c,
            Path(env["SEVIS_BATCH_FILE"]).read_bytes(),
            org_id=env["SEVIS_ORG_ID"],
            user_id=env["SEVIS_USER_ID"],
            batch_id=env["SEVIS_BATCH_ID"],
            policy=RetryPolicy.scaled(float(env.get("SEVIS_COOLDOWN") or 1.0)),
            say=print,
        )
    if report.error:
        print(f"failed: {report.error}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
