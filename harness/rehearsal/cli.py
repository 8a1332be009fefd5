"""`sevis-mock rehearse`: the 15-step SEVIS beta-testing procedure against an embedded or running mock."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from .certs import CertificateError, ClientCertificate, development_ca_dir, from_p12, from_pem, trust_anchors
from .context import Context, Target
from .embedded import EmbeddedMock, EmbeddedMockError
from .model import Rehearsal
from .procedure import ProcedureError, load_procedure
from .readdress import BatchFileError, readdress
from .reports import Terminal, write_html, write_json, write_junit
from .runner import run_steps, unknown_checks
from .sample import sample_batch
from .school import SchoolFileError, load_school
from ..api import MockApi
from ..connection import Connection, connection_path, load_connection

ENVIRONMENTS = ("beta", "alpha", "production")
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(click.UsageError):
    """Bad input to rehearse (exit code 2)."""


def _read_batches(paths: tuple[Path, ...], kind: str = "F/M") -> list[tuple[str, bytes, bool]]:
    if not paths:
        if kind == "J":
            from .sample import sample_ev_batches

            return [(name, xml, True) for name, xml in sample_ev_batches()]
        return [("sample-create-students.xml", sample_batch(), True)]
    sources = []
    org_id = "P-1-00000" if kind == "J" else "AAA214F00000000"
    for path in paths:
        xml = path.read_bytes()
        try:  # check now that the file can be re-addressed; the real values come after approval (step 9)
            readdress(xml, org_id=org_id, user_id="AAAAAAAAAA", batch_id="A" * 14, source=str(path), kind=kind)
        except BatchFileError as exc:
            raise UsageError(f"--batch {exc}") from exc
        sources.append((str(path), xml, False))
    return sources


def _college_certificate(cert, key, p12, p12_password, work: Path) -> ClientCertificate | None:
    if p12 and (cert or key):
        raise UsageError("give either --cert/--key or --p12, not both")
    if bool(cert) != bool(key):
        raise UsageError("--cert and --key go together (the certificate and its private key, PEM)")
    try:
        if p12:
            return from_p12(p12, p12_password, work / "college")
        if cert:
            return from_pem(cert, key)
    except CertificateError as exc:
        raise UsageError(str(exc)) from exc
    return None


def _server_target(
    server: str,
    connection: Path | None,
    ca: Path | None,
    environment: str,
    sevp_user: str | None,
    sevp_password: str | None,
) -> Target:
    default, named = connection_path(connection)
    base = server.rstrip("/")
    try:
        if named or default.is_file():
            details = load_connection(default)
        else:
            details = Connection.for_server(base)
        target = Target.from_connection(details, environment, str(ca) if ca else None, base_url=base)
    except ValueError as exc:  # ConnectionFileError included
        raise UsageError(f"--connection: {exc}") from exc
    if target.ca_dir is None and ca:
        target.ca_dir = development_ca_dir(ca)
    if sevp_user:
        target.sevp_user = sevp_user
    if sevp_password:
        target.sevp_password = sevp_password
    return target


def _sponsor_file_sets(path: Path | None, key: str) -> bool:
    """Whether the sponsor file gives `key` itself (the file was already checked by load_sponsor)."""
    if path is None:
        return False
    import yaml

    given = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return isinstance(given, dict) and key in given


@click.command("rehearse")
@click.option("--server", metavar="URL", help="A running sevis-mock (its base URL) instead of an embedded one.")
@click.option(
    "--connection",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The running mock's connection.json (CA, RTI/SEVP addresses, operator login). "
    "Default with --server: $SEVIS_MOCK_CONNECTION, else ./.sevis-mock/connection.json if present.",
)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificate that issued the server's certificate (default: from the connection file).",
)
@click.option("--sevp-user", help="SEVP operator console user (default: from the connection file).")
@click.option("--sevp-password", help="SEVP operator console password (default: from the connection file).")
@click.option(
    "--environment",
    type=click.Choice(ENVIRONMENTS),
    default="beta",
    show_default=True,
    help="The RTI site and batch endpoints rehearsed.",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The client certificate (PEM) the college will register; with --key.",
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Its private key (PEM).")
@click.option(
    "--p12",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate and key as a PKCS#12 file instead of --cert/--key.",
)
@click.option("--p12-password", help="Password of the --p12 file.")
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="CA certificate that issued --cert (the embedded mock then accepts it). Repeatable.",
)
@click.option(
    "--batch",
    "batches",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A batch file of the college's own (F/M; with --sponsor, the sponsor's own EV batch); re-addressed to "
    "the test school or program. Repeatable.",
)
@click.option(
    "--school",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file with the school's details (default: a sample school).",
)
@click.option(
    "--sponsor",
    "sponsor_flag",
    is_flag=True,
    help="Rehearse as an exchange-visitor (J) sponsor: Form DS-3036, the Department of State's designation, "
    "the RO's batch registration and EV batches (procedure-j.yaml). Same as --kind J.",
)
@click.option(
    "--kind",
    type=click.Choice(["F/M", "FM", "J"], case_sensitive=False),
    help="F/M (a school, the default) or J (an exchange-visitor sponsor, as --sponsor).",
)
@click.option(
    "--sponsor-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file with the sponsor's details for a J rehearsal (default: a sample program); implies --sponsor.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the embedded mock's data here (default: a fresh temporary folder, removed afterwards).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120,
    show_default=True,
    help="Seconds to wait for a batch to be processed before the step reports WAIT.",
)
@click.option(
    "--procedure",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Another procedure file (default: the packaged 15 steps).",
)
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here."
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JUnit XML here (one testcase per step and per record).",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report here (evidence to keep).",
)
@click.option(
    "--explore",
    metavar="N",
    type=click.IntRange(min=1),
    help="Instead: N random walks through the procedure, steps done right, wrong or out of order; a "
    "failing walk is written as a replay script (--explore-script). With --server, the mock is "
    "RESET before each walk.",
)
@click.option(
    "--explore-script",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sevis-explore-failure.py"),
    show_default=True,
    help="Where --explore writes the shortest failing walk (a Python script that replays it).",
)
@click.option(
    "--chaos",
    is_flag=True,
    default=False,
    help="Instead: upload and download one batch with SEVIS's bad days injected (--scenario, default "
    "sevis-bad-day) and report whether the client recovered (retried, did not resubmit an accepted "
    "batch ID, kept polling through S0030).",
)
@click.option(
    "--scenario",
    metavar="NAME|FILE",
    default=None,
    help="The faults of --chaos: a shipped scenario (sevis-mock scenarios) or a YAML file. Implies --chaos.",
)
@click.option(
    "--client-command",
    metavar="COMMAND",
    default=None,
    help="With --chaos: the college's own upload/download program, run with SEVIS_UPLOAD_URL, "
    "SEVIS_DOWNLOAD_URL, SEVIS_ORG_ID, SEVIS_USER_ID, SEVIS_BATCH_ID, SEVIS_BATCH_FILE, SEVIS_CERT, "
    "SEVIS_KEY, SEVIS_CA, SEVIS_OUT_DIR and SEVIS_COOLDOWN in its environment (default: the built-in retrying "
    "client).",
)
@click.option(
    "--chaos-cooldown",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="With --chaos: the built-in client's pause between tries, the longest Retry-After it honours being 5 times "
    "this (SEVIS asks for minutes; a rehearsal scales them down). A client command gets it as SEVIS_COOLDOWN.",
)
def rehearse_command(
    server,
    connection,
    ca,
    sevp_user,
    sevp_password,
    environment,
    cert,
    key,
    p12,
    p12_password,
    trust,
    batches,
    school,
    sponsor_flag,
    kind,
    sponsor_file,
    data_dir,
    timeout,
    procedure,
    json_file,
    junit_file,
    html_file,
    explore=None,
    explore_script=None,
    chaos=False,
    scenario=None,
    client_command=None,
    chaos_cooldown=1.0,
) -> None:
    """Run SEVIS's 15-step batch beta-testing procedure and report each step (a school's, or with
    --sponsor an exchange-visitor sponsor's).

    Exit code: 0 every required step passed and no record was rejected; 1 otherwise; 2 usage errors.
    """
    if chaos or scenario or client_command:
        from ..chaos import cli_chaos

        batch = batches[0].read_bytes() if batches else None
        sys.exit(
            cli_chaos(
                scenario,
                client_command,
                server,
                connection,
                data_dir,
                batch,
                environment,
                timeout,
                json_file,
                chaos_cooldown,
            )
        )
    if explore:
        from .explore import cli_explore

        sys.exit(cli_explore(explore, server, connection, data_dir, explore_script))
    started = time.monotonic()
    if (kind or "").upper() in ("F/M", "FM") and (sponsor_flag or sponsor_file):
        raise UsageError("--kind F/M rehearses a school; --sponsor and --sponsor-file are for a J sponsor")
    kind = "J" if (sponsor_flag or sponsor_file or (kind or "").upper() == "J") else "F/M"
    if kind == "J" and school:
        raise UsageError("--school describes an F/M school; a sponsor's details go in --sponsor-file")
    try:
        steps = load_procedure(procedure, kind)
    except ProcedureError as exc:
        raise UsageError(f"--procedure: {exc}") from exc
    if unknown_checks(steps):
        raise UsageError("--procedure names unknown checks: " + ", ".join(unknown_checks(steps)))
    for option, path in (("--json", json_file), ("--junit", junit_file), ("--html", html_file)):
        if path is not None and not path.resolve().parent.is_dir():
            raise UsageError(f"{option} {path}: the folder {path.resolve().parent} does not exist")
    if server and (data_dir or trust):
        raise UsageError("--data-dir and --trust configure the embedded mock; with --server configure that server")
    tag = datetime.now(UTC).strftime("%H%M%S")
    try:
        if kind == "J":
            from .sponsor import load_sponsor

            school_details, own_school = load_sponsor(sponsor_file, tag)
        else:
            school_details, own_school = load_school(school, tag)
    except SchoolFileError as exc:
        raise UsageError(f"{'--sponsor-file' if kind == 'J' else '--school'} {exc}") from exc
    sources = _read_batches(batches, kind)
    applied_for = None
    if kind == "J" and batches and not _sponsor_file_sets(sponsor_file, "categories"):
        from .sponsor import categories_in

        applied_for = categories_in([xml for _, xml, _ in sources]) or None
        if applied_for:  # the DS-3036 applies for the categories the sponsor's own batches use
            school_details["categories"] = applied_for
    work = Path(tempfile.mkdtemp(prefix="sevis-rehearse-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        college = _college_certificate(cert, key, p12, p12_password, work)
        who = "program" if kind == "J" else "school"
        if kind == "J":
            notes = [
                ("sponsor details from " + str(sponsor_file))
                if own_school
                else "sample sponsor details (give --sponsor-file FILE for your own)"
            ]
        else:
            notes = [
                ("school details from " + str(school))
                if own_school
                else "sample school details (give --school FILE for your own)"
            ]
        if applied_for:
            notes.append(
                f"DS-3036 categories: {', '.join(applied_for)}, those the batches use (give `categories` in "
                "--sponsor-file to apply for others)"
            )
        notes.append(
            "batches: "
            + (
                ", ".join(str(b) for b in batches) + f" (re-addressed to the test {who})"
                if batches
                else (
                    "the sample batches: a create (a research scholar with a spouse and a site of activity, a "
                    "trainee with a T/IPP) and an update (give --batch FILE for your own)"
                    if kind == "J"
                    else "the sample batch (give --batch FILE for your own)"
                )
            )
        )
        notes.append(
            f"certificate: {college.subject} ({'--p12' if p12 else '--cert'})"
            if college
            else "certificate: issued by the mock's development CA (give --cert/--key or --p12 for your own)"
        )
        if server:
            target = _server_target(server, connection, ca, environment, sevp_user, sevp_password)
            label = target.base_url
            if college is None and target.ca_dir is None:
                raise UsageError(
                    "give --cert/--key or --p12 (the certificate to register in step 11): the mock's "
                    "development CA is not readable here, so the rehearsal cannot issue one"
                )
        else:
            anchors = list(trust)
            if college is not None:
                anchors += trust_anchors(college, work)
                if not anchors:
                    raise UsageError(
                        f"the embedded mock cannot check {college.subject}: give --trust ISSUER.pem "
                        "(the CA certificate that issued it), as SEVIS trusts the CA you bought it from"
                    )
            mock = EmbeddedMock(data_dir, trust=anchors)
            stack.callback(mock.cleanup)
            try:
                target = Target.from_connection(mock.start(), environment)
            except (EmbeddedMockError, ValueError) as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_FAILED)
            label = f"embedded mock {target.base_url} (data dir {mock.data_dir}{'' if data_dir else ', removed afterwards'})"
        rehearsal = Rehearsal(
            target=label,
            environment=environment,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            school=school_details if kind == "F/M" else {},
            sponsor=school_details if kind == "J" else {},
            kind=kind,
            notes=notes,
        )
        holder: list[Context] = []
        api = MockApi(target.ca_cert, record=lambda exchange: holder[0].evidence.exchanges.append(exchange), timeout=30)
        stack.callback(api.close)
        ctx = Context(
            target=target,
            api=api,
            school=school_details,
            batch_sources=sources,
            work_dir=work,
            college_certificate=college,
            process_timeout=timeout,
            server_log=None if server else (lambda: mock.log_excerpt(15)),
            kind=kind,
        )
        holder.append(ctx)
        terminal = Terminal(click.echo, len(steps), color=sys.stdout.isatty())
        terminal.header(rehearsal)
        run_steps(ctx, steps, rehearsal, on_done=terminal.step_done)
        rehearsal.seconds = time.monotonic() - started
        terminal.summary(rehearsal)
        for path, writer in ((json_file, write_json), (junit_file, write_junit), (html_file, write_html)):
            if path is not None:
                writer(rehearsal, path)
                click.echo(f"report written: {path}")
    sys.exit(EXIT_PASSED if rehearsal.passed else EXIT_FAILED)
