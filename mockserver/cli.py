"""The `sevis-mock` command."""

from __future__ import annotations

from pathlib import Path

import click

from .clock import parse_iso
from .config import PROFILES, Settings


@click.group()
@click.version_option(package_name="sevis-mock")
def main() -> None:
    """sevis-mock: an offline stand-in for SEVIS Batch (upload, processing, transaction logs, forms)."""


def _clock(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 date or date-time (e.g. 2027-01-15T09:00:00)")


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path(".sevis-mock"),
    show_default=True,
    help="Where certificates, the database and connection.json live.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="0 picks a free port.")
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="alpha",
    show_default=True,
    help="Processing latency: alpha seconds, beta about 20 minutes, production overnight.",
)
@click.option(
    "--processing-delay",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds between upload and processing; overrides --profile (0 = at once).",
)
@click.option(
    "--clock",
    callback=_clock,
    default=None,
    help="The mock's 'now' at start (ISO-8601); it then advances in real time.",
)
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="Extra CA certificate (PEM) whose client certificates are accepted. Repeatable.",
)
@click.option(
    "--schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="Validate with an official XSD release folder instead of the project's own. Repeatable.",
)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option(
    "--auto-approve",
    "auto_approve",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="SEVP approves each submitted I-17 after SECONDS of mock-clock time (0 = at once), for unattended runs.",
)
@click.option(
    "--smtp", default=None, metavar="HOST:PORT", help="Also deliver every e-mail of the outbox to this SMTP server."
)
@click.option(
    "--fast-passwords",
    "fast_passwords",
    is_flag=True,
    default=None,
    help="Hash RTI passwords with PBKDF2-SHA256 (1,000 rounds) instead of scrypt: about 100 times faster, for "
    "throwaway test servers (CI). Never with passwords you use anywhere else.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="A recording made by `sevis-mock proxy --record DIR`: requests it holds get the recorded replies byte for "
    "byte; anything else is answered as the mock would (the reply header X-Sevis-Mock-Replay and the journal say which).",
)
def serve(
    data_dir,
    host,
    port,
    profile,
    processing_delay,
    clock,
    trust,
    schemas,
    workers,
    auto_approve,
    smtp,
    fast_passwords,
    replay,
) -> None:
    """Run the mock over mutual TLS; prints how to reach it and writes DATA_DIR/connection.json."""
    from .serve import serve as run
    from .validation import SchemaFolderError, SchemaSet

    settings = Settings.from_env(
        data_dir=data_dir,
        host=host,
        port=port,
        profile=profile,
        processing_delay=processing_delay,
        clock=clock,
        trust=list(trust),
        schemas=list(schemas),
        workers=workers,
        auto_approve=auto_approve,
        smtp=smtp,
        fast_passwords=fast_passwords,
        replay=replay,
    )
    if smtp:
        from .rti.mail import parse_smtp

        try:
            parse_smtp(smtp)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--smtp")
    try:
        found = SchemaSet.discover(settings.schemas)
        found.compile_all()
    except SchemaFolderError as exc:
        raise click.ClickException(f"schemas: {exc}")
    if replay is not None:
        from .recordings import ReplayIndex

        try:
            index = ReplayIndex.load(replay)
        except (ValueError, OSError, TypeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--replay")
        click.echo(f"replaying {len(index)} recorded replies from {replay}")
    if schemas:
        for line in found.describe():
            click.echo(f"schema {line}")
    run(settings)


@main.group()
def certs() -> None:
    """Client certificates from the mock's development CA."""


@certs.command("issue")
@click.option("--org", "org_id", required=True, help="School code or program number.")
@click.option("--user", "user_id", required=True, help="The official's 10-character user ID.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path(".sevis-mock"), show_default=True)
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Also register the certificate for batch with ORG and USER (as RTI batch registration does).",
)
def certs_issue(org_id, user_id, out, data_dir, register) -> None:
    """Issue a client certificate for ORG and USER into OUT."""
    from .clock import MockClock
    from .datadir import DataDir, registration
    from .db import Official, Organization
    from .tls import CertificateAuthority

    settings = Settings(data_dir=data_dir)
    d = DataDir(settings)
    if not d.ca_cert.exists():
        raise click.ClickException(
            f"{data_dir} has no development CA yet; run `sevis-mock serve --data-dir {data_dir}` once"
        )
    ca = CertificateAuthority.load_or_create(d.certs)
    issued = ca.issue_client(out, org_id=org_id, user_id=user_id)
    click.echo(f"certificate {issued.cert_path}\nkey         {issued.key_path}")
    if register:
        from .db import Store

        store = Store(settings.db_url)
        store.create_all()
        with store.write() as s:
            if s.get(Organization, org_id) is None:
                raise click.ClickException(f"{org_id} is not an organization of this mock; issued but not registered")
            official = s.get(Official, user_id)
            if official is None or official.org_id != org_id:
                raise click.ClickException(f"{user_id} is not an official of {org_id}; issued but not registered")
            s.add(registration(issued.certificate, org_id, user_id, MockClock(store).now()))
        click.echo(f"registered for batch with {org_id} / {user_id}")


from harness.cli import download_command, upload_command  # noqa: E402  (the client side of the protocol)

main.add_command(upload_command, "upload")
main.add_command(download_command, "download")
from harness.validate import validate_command  # noqa: E402  (offline verdicts: sevis-mock validate)

main.add_command(validate_command)
from harness.rehearsal.cli import rehearse_command  # noqa: E402  (the 15-step beta-testing procedure)

main.add_command(rehearse_command)
from .codes import codes_command  # noqa: E402  (sevis-mock codes: the result-code coverage table)

main.add_command(codes_command)
from harness.shadow.cli import proxy_command, shadow_report_command  # noqa: E402  (record, replay and shadow)

main.add_command(proxy_command)
main.add_command(shadow_report_command)
