"""The server's own commands: ``serve``, ``reset``, ``wait``, ``scenarios`` and ``certs issue``.

``python -m sevis_mock.server`` runs these alone (the tests and the harness start servers that way); the
``sevis-mock`` command (``sevis_mock.cli``) offers them beside the harness's commands. Each command imports what
it needs inside, so that ``--help`` and ``--version`` import click and nothing heavy.
Every option can also be given as an environment variable, shown in ``--help``: ``SEVIS_MOCK_<OPTION>`` for
``serve``, ``reset``, ``wait`` and ``certs issue`` (``SEVIS_MOCK_DATA_DIR``, ``SEVIS_MOCK_PORT``, ...), and
``SEVIS_MOCK_<COMMAND>_<OPTION>`` for the others (``SEVIS_MOCK_UPLOAD_WAIT``, ...).
"""

from __future__ import annotations

from pathlib import Path

import click

ENV_PREFIX = "SEVIS_MOCK"
PROFILES = ("alpha", "beta", "production")  # sevis_mock.server.config.PROFILES (not imported here: start-up time)


def show_envvars(command: click.Command, prefix: str) -> click.Command:
    """Name each option's environment variable after its flag (``--json`` of ``codes``: SEVIS_MOCK_CODES_JSON, not
    click's SEVIS_MOCK_CODES_AS_JSON from the parameter's name) and list it in ``--help``."""
    prefix = command.context_settings.get("auto_envvar_prefix") or prefix
    for param in command.params:
        if isinstance(param, click.Option) and param.expose_value:
            param.show_envvar = True
            flags = [opt for opt in param.opts if opt.startswith("--")]
            if param.envvar is None and param.allow_from_autoenv and flags:
                param.envvar = f"{prefix}_{flags[0][2:].replace('-', '_').upper()}"
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            show_envvars(sub, f"{prefix}_{name.replace('-', '_').upper()}")
    return command


def print_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from . import __version__  # not importlib.metadata: importing it costs more than the rest of --version

        click.echo(f"sevis-mock, version {__version__}")
        ctx.exit()


VERSION_OPTION = click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    allow_from_autoenv=False,
    callback=print_version,
    help="Show the version.",
)


@click.group(context_settings={"auto_envvar_prefix": ENV_PREFIX})
@VERSION_OPTION
def main() -> None:
    """sevis-mock's server commands (the `sevis-mock` command has these and the client's: upload, download, ...)."""


class SetupError(click.ClickException):
    """A problem with the set-up (data dir, port, certificates): one paragraph saying what to do, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        import textwrap

        text = f"sevis-mock: {self.format_message()}"
        click.echo(textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False), err=True)


def _clock(ctx, param, value):
    if value is None:
        return None
    from .clock import ClockOutOfRange, parse_iso

    try:
        return parse_iso(value)
    except ClockOutOfRange as exc:
        raise click.BadParameter(str(exc))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 date or date-time (e.g. 2027-01-15T09:00:00)")


def _public_url(ctx, param, value):
    if value is None:
        return None
    from .config import parse_public_url

    try:
        return parse_public_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc))


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".sevis-mock"),
    show_default=True,
    help="Where certificates, the database and connection.json live.",
)
DATABASE_OPTION = click.option(
    "--database",
    "database_url",
    envvar=f"{ENV_PREFIX}_DATABASE_URL",
    default=None,
    metavar="URL",
    help="The store: a PostgreSQL database (postgresql://USER:PASSWORD@HOST:PORT/NAME, psycopg 3) that several "
    "instances may share, or a SQLAlchemy URL; default the SQLite file DATA_DIR/sevis-mock.db. Its schema is "
    "created or upgraded at start.",
)
OWN_PREFIX = {"auto_envvar_prefix": ENV_PREFIX}  # SEVIS_MOCK_DATA_DIR rather than SEVIS_MOCK_SERVE_DATA_DIR


@main.command(context_settings=OWN_PREFIX)
@DATA_DIR_OPTION
@DATABASE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="0 picks a free port.")
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="alpha",
    show_default=True,
    help="Processing latency: alpha about 5 s, beta about 20 minutes, production overnight (03:00).",
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
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Server processes.")
@click.option(
    "--auto-approve",
    "auto_approve",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="SEVP approves each submitted I-17, and the Department of State designates each submitted DS-3036, after "
    "SECONDS of mock-clock time (0 = at once), for unattended runs.",
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
@click.option(
    "--max-worker-memory",
    "max_worker_memory_mb",
    type=click.FloatRange(min=0),
    default=None,
    metavar="MIB",
    help="Recycle a worker process whose resident memory passes MIB after a request (default 512; 0 = never).",
)
@click.option(
    "--processing-lease",
    "processing_lease",
    type=click.FloatRange(min=1, max=3600),
    default=None,
    metavar="SECONDS",
    help="Real seconds a processor holds a batch between two steps (about 20 ms apart) before another process or "
    "instance may go on with it (default 15): how long a batch whose processor died (kill -9, a lost host) waits.",
)
@click.option(
    "--open-outbox",
    "open_outbox",
    is_flag=True,
    default=None,
    help="Let anyone who reaches the mock read the e-mail outbox (it holds Set Password links); by default it "
    "needs the control token or a SEVP console login.",
)
@click.option(
    "--public-url",
    "public_url",
    callback=_public_url,
    default=None,
    metavar="URL",
    help="The address clients use when a proxy or load balancer is in front of the instances (https://HOST[:PORT]): "
    "connection.json's top-level URLs give it, and the server certificate names its host.",
)
@click.option(
    "--scenario",
    "scenario",
    multiple=True,
    metavar="NAME|FILE",
    help="Faults in force from the start: a shipped scenario (see `sevis-mock scenarios`) or a YAML scenario file. "
    "Repeatable.",
)
def serve(
    data_dir,
    database_url,
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
    max_worker_memory_mb,
    processing_lease,
    open_outbox,
    public_url,
    scenario,
) -> None:
    """Run the mock over mutual TLS; prints how to reach it and writes DATA_DIR/connection.json."""
    from .config import Settings
    from .serve import SetupProblem, check_setup
    from .faults.model import FaultError
    from .faults.scenario import load as load_scenario
    from .serve import serve as run

    try:
        loaded = [load_scenario(name) for name in scenario]
    except FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario")
    from .validation import SchemaFolderError, SchemaSet

    settings = Settings.from_env(
        data_dir=data_dir,
        database_url=database_url,
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
        max_worker_memory_mb=max_worker_memory_mb,
        processing_lease=processing_lease,
        open_outbox=open_outbox,
        public_url=public_url,
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
        raise SetupError(f"schemas: {exc}")
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
    try:
        datadir = check_setup(settings)
    except SetupProblem as exc:
        raise SetupError(str(exc))
    if loaded:
        from .faults.scenario import install

        install(settings.db_url, loaded)  # faults in force from the start
    run(settings, datadir)


@main.command(context_settings=OWN_PREFIX)
@DATA_DIR_OPTION
@DATABASE_OPTION
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also delete organizations, officials, certificate registrations, RTI accounts and the clock offset, "
    "then seed the default school and sponsor again (as POST /control/reset).",
)
def reset(data_dir: Path, database_url: str | None, everything: bool) -> None:
    """Forget every batch, record, journal entry and e-mail of DATA_DIR (the server may be running).

    Organizations, officials, certificate registrations, RTI accounts and the mock clock are kept unless
    --all; certificate files are always kept, so connection.json stays valid.
    """
    from .config import Settings
    from .control.reset import reset_data_dir

    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    if not (settings.data_dir / "sevis-mock.db").exists() and settings.database_url is None:
        raise SetupError(
            f"{settings.data_dir} holds no sevis-mock database: nothing to reset (pass the --data-dir that "
            "`sevis-mock serve` uses)"
        )
    cleared = reset_data_dir(settings, everything=everything)
    rows = sum(cleared.values())
    kept = "" if everything else "; organizations, officials, certificates and RTI accounts kept"
    click.echo(f"reset {settings.data_dir}: {rows} rows deleted ({_counts(cleared)}){kept}")


def _counts(cleared: dict[str, int]) -> str:
    return ", ".join(f"{table} {n}" for table, n in cleared.items() if n) or "it was empty"


@main.command(context_settings=OWN_PREFIX)
@DATA_DIR_OPTION
@click.option("--connection", metavar="PATH", help="connection.json to read (default: DATA_DIR/connection.json).")
@click.option("--url", metavar="URL", help="Base URL of the mock (default: from connection.json).")
@click.option("--timeout", type=click.FloatRange(min=0), default=60, show_default=True, help="Give up after SECONDS.")
@click.option(
    "--interval", type=click.FloatRange(min=0.01), default=0.25, show_default=True, help="Seconds between polls."
)
def wait(data_dir: Path, connection: str | None, url: str | None, timeout: float, interval: float) -> None:
    """Wait until the mock answers GET /readyz with "ready" (for CI scripts: `sevis-mock serve &` then this).

    Exit code 0 ready, 1 not ready within --timeout (the last reason is printed), 2 usage errors.
    """
    from .readiness import wait_ready

    ok, message = wait_ready(
        connection=Path(connection) if connection else data_dir / "connection.json",
        url=url,
        timeout=timeout,
        interval=interval,
    )
    click.echo(message, err=not ok)
    raise SystemExit(0 if ok else 1)


@main.command("scenarios")
@click.option("--show", metavar="NAME", default=None, help="Print one scenario's YAML file.")
def scenarios_command(show) -> None:
    """The shipped fault scenarios, one line each (load one with `serve --scenario NAME` or the control API)."""
    from .faults.scenario import SHIPPED, shipped

    found = shipped()
    if show is not None:
        if show not in found:
            raise click.BadParameter(f"no scenario {show!r}; known: {', '.join(found)}", param_hint="--show")
        click.echo((SHIPPED / found[show].source).read_text(encoding="utf-8"), nl=False)
        return
    width = max(len(name) for name in found)
    for name, scenario in found.items():
        click.echo(f"{name:<{width}}  {scenario.description}")


@main.group()
def certs() -> None:
    """Client certificates from the mock's development CA."""


@certs.command("issue", context_settings=OWN_PREFIX)
@click.option("--org", "org_id", required=True, help="School code or program number.")
@click.option("--user", "user_id", required=True, help="The official's 10-character user ID.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@DATA_DIR_OPTION
@DATABASE_OPTION
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Also register the certificate for batch with ORG and USER (as RTI batch registration does).",
)
def certs_issue(org_id, user_id, out, data_dir, database_url, register) -> None:
    """Issue a client certificate for ORG and USER into OUT."""
    from .clock import MockClock
    from .config import Settings
    from .datadir import DataDir, registration
    from .store import Official, Organization
    from .tls import CertificateAuthority

    settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    d = DataDir(settings)
    if not d.ca_cert.exists():
        raise click.ClickException(
            f"{data_dir} has no development CA yet; run `sevis-mock serve --data-dir {data_dir}` once"
        )
    ca = CertificateAuthority.load_or_create(d.certs)
    issued = ca.issue_client(out, org_id=org_id, user_id=user_id)
    click.echo(f"certificate {issued.cert_path}\nkey         {issued.key_path}")
    if register:
        from .store import Store

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


@certs.command("export", context_settings=OWN_PREFIX)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DATA_DIR_OPTION
def certs_export(file, data_dir) -> None:
    """Write what instances on other hosts need from DATA_DIR to FILE (readable by you only): the development CA
    and its key, the server and seeded client certificates, the control token, RTI's session key and the SEVP
    operator's login. Take it to each host with `certs import`; keep it as secret as the CA's key."""
    from .config import Settings
    from .sharing import SharingProblem, export_bundle

    settings = Settings.from_env(data_dir=data_dir)
    try:
        names = export_bundle(settings.data_dir, file)
    except SharingProblem as exc:
        raise SetupError(str(exc))
    except OSError as exc:
        raise SetupError(f"cannot write {file} ({exc.strerror or exc}); choose a file in a folder you can write")
    click.echo(f"wrote {len(names)} files of {settings.data_dir} to {file} (mode 0600)")


@certs.command("import", context_settings=OWN_PREFIX)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@DATA_DIR_OPTION
@click.option(
    "--replace",
    is_flag=True,
    help="Take the file's CA even though DATA_DIR holds another (the client certificates that one issued stop working).",
)
def certs_import(file, data_dir, replace) -> None:
    """Unpack a file written by `certs export` into DATA_DIR (0700, every file 0600), so that an instance started
    there on the same database is one SEVIS with the others. No serve may be running on DATA_DIR."""
    from .config import Settings
    from .sharing import SharingProblem, import_bundle

    settings = Settings.from_env(data_dir=data_dir)
    try:
        names = import_bundle(settings.data_dir, file, replace=replace)
    except SharingProblem as exc:
        raise SetupError(str(exc))
    click.echo(f"imported {len(names)} files into {settings.data_dir}")


show_envvars(main, ENV_PREFIX)
