"""The `upload` and `download` commands: a school's side of SEVIS Batch, from the shell.

Both read their defaults (server, CA, organizations, users, client certificates) from a connection
file: `--connection PATH`, else `$SEVIS_MOCK_CONNECTION`, else `./.sevis-mock/connection.json`.
Every default can be overridden on the command line, so the same commands work against the real
SEVIS (`--server https://egov.ice.gov --cert ... --key ...`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import click

from sevis_mock.harness.hints import known_hint
from sevis_mock.harness.connection import (
    CONNECTION_ENV,
    DEFAULT_CONNECTION,
    Connection,
    ConnectionFileError,
    SevisOrg,
    connection_path,
    load_connection,
)
from sevis_mock.harness.client import (
    ENVIRONMENTS,
    DownloadResult,
    RecordResult,
    SevisClient,
    SevisError,
    SevisProtocolError,
    SevisTimeout,
    TransactionLog,
    UploadResult,
    describe_code,
    read_document_info,
    replace_batch_id,
)

DEFAULT_ENVIRONMENT = "sbtsevisbatch"


# --------------------------------------------------------------------------------------------
# Connection file and target resolution
# --------------------------------------------------------------------------------------------
def read_connection(explicit: str | None) -> Connection | None:
    """The connection file (``--connection``, ``$SEVIS_MOCK_CONNECTION``, ``./.sevis-mock/connection.json``);
    None when the default file is absent, an error when a named one is missing or unusable."""
    path, named = connection_path(explicit)
    if not named and not path.is_file():
        return None
    try:
        return load_connection(path)
    except ConnectionFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _kind(value: str | None) -> str | None:
    if not value:
        return None
    value = value.upper()
    if value == "J" or value.startswith("J"):
        return "J"
    return "F/M" if ("F" in value or "M" in value) else value


@dataclass
class Target:
    """Where and as whom to talk: resolved from options, then the connection file, then the document."""

    base_url: str
    environment: str
    org_id: str
    user_id: str
    cert: tuple[str, str] | None
    p12: str | None
    p12_password: str | None
    ca: str | bool
    org_name: str | None = None

    def client(self, timeout: float) -> SevisClient:
        return SevisClient(
            self.base_url,
            cert=self.cert,
            p12=self.p12,
            p12_password=self.p12_password,
            ca_bundle=self.ca,
            environment=self.environment,
            timeout=timeout,
        )


def _pick_org(
    orgs: tuple[SevisOrg, ...], org_id: str | None, doc_org: str | None, doc_kind: str | None, *, need_choice: bool
) -> SevisOrg | None:
    if org_id:
        return next((o for o in orgs if o.org_id == org_id), None)
    if doc_org:
        match = next((o for o in orgs if o.org_id == doc_org), None)
        if match:
            return match
    if doc_kind:
        match = next((o for o in orgs if _kind(o.kind) == doc_kind), None)
        if match:
            return match
    if need_choice and len(orgs) > 1:
        names = ", ".join(o.org_id for o in orgs)
        raise click.UsageError(f"several organizations in the connection file; pass --org ({names})")
    return orgs[0] if orgs else None


def resolve_target(
    opts: dict[str, Any], *, doc_org: str | None = None, doc_kind: str | None = None, doc_user: str | None = None
) -> Target:
    conn = read_connection(opts["connection"])
    org = _pick_org(conn.organizations if conn else (), opts["org_id"], doc_org, doc_kind, need_choice=doc_kind is None)

    base_url = opts["server"] or (conn.base_url if conn else None)
    if not base_url:
        raise click.UsageError(
            "no server: pass --server URL or a connection file "
            f"(--connection, ${CONNECTION_ENV}, ./{DEFAULT_CONNECTION})"
        )
    env_name = opts["environment"] or DEFAULT_ENVIRONMENT
    environment = conn.batch_prefix(env_name) if conn else ENVIRONMENTS.get(env_name, env_name)

    org_id = opts["org_id"] or (org.org_id if org else None) or doc_org
    if not org_id:
        raise click.UsageError("no organization: pass --org ORGID")
    user_id = opts["user_id"] or (org.user_id if org else None) or doc_user
    if not user_id:
        raise click.UsageError(f"no user ID for {org_id}: pass --user USERID")

    if opts["p12"] and (opts["cert"] or opts["key"]):
        raise click.UsageError("give either --cert/--key or --p12, not both")
    if bool(opts["cert"]) != bool(opts["key"]):
        raise click.UsageError("--cert and --key go together")
    cert: tuple[str, str] | None = None
    p12 = opts["p12"]
    if opts["cert"]:
        cert = (opts["cert"], opts["key"])
    elif not p12 and org:
        cert, p12 = org.cert, None if org.cert else org.client_p12
    ca: str | bool = opts["ca"] or (conn.ca_cert if conn else None) or True
    return Target(
        base_url=base_url,
        environment=environment,
        org_id=org_id,
        user_id=user_id,
        cert=cert,
        p12=p12,
        p12_password=opts["p12_password"],
        ca=ca,
        org_name=org.name if org else None,
    )


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def _when(value: datetime | None) -> str:
    """A log's time as SEVIS wrote it (its own zone: US Eastern, with the offset), to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S %z").strip() if value else "-"


def _code_words(code: str | None) -> str:
    if not code:
        return "(no code)"
    meaning = describe_code(code)
    return f"{code} ({meaning})" if meaning else code


def _address_words(addr: dict[str, Any] | None) -> str:
    if not addr:
        return "-"
    parts = [addr.get("address1"), addr.get("address2"), addr.get("city"), addr.get("state"), addr.get("postal_code")]
    return ", ".join(p for p in parts if p)


def _echo_record(record: RecordResult) -> None:
    sevis_id = record.sevis_id or "-"
    if record.ok:
        click.echo(f"  OK     request {record.request_id:<20} SEVIS ID {sevis_id}")
    else:
        click.echo(
            f"  ERROR  request {record.request_id:<20} SEVIS ID {sevis_id}  "
            f"{record.error_code or '?'}: {record.error_message or ''}".rstrip()
        )
    for dep in record.dependents:
        extra = ", ".join(f"{k} {v}" for k, v in (("A", dep.user_defined_a), ("B", dep.user_defined_b)) if v)
        click.echo(f"         dependent {dep.sevis_id or '-'}" + (f" ({extra})" if extra else ""))
    for site in record.sites:
        label = " ".join(p for p in (site.get("site_id"), site.get("site_name")) if p) or "-"
        line = f"         site {label}: address {site.get('address_result') or '-'}"
        if site.get("corrected_address"):
            line += f", corrected to {_address_words(site['corrected_address'])}"
        if site.get("address_message"):
            line += f" ({site['address_message']})"
        click.echo(line)
    for which, result in (("physical", record.physical_address), ("mailing", record.mailing_address)):
        if result:
            line = f"         {which} address {result.get('result') or '-'}"
            if result.get("corrected"):
                line += f", corrected to {_address_words(result['corrected'])}"
            if result.get("message"):
                line += f" ({result['message']})"
            click.echo(line)


def echo_log(log: TransactionLog) -> None:
    """Print a transaction log in words."""
    click.echo(
        f"Batch {log.batch_id or '-'} of {log.org_id or '-'}"
        f" (system {log.system or '-'}, status {'OK' if log.status else 'NOT OK'})"
    )
    if log.upload:
        click.echo(
            f"  Upload    {_code_words(log.upload.code)} at {_when(log.upload.timestamp)}"
            + (f", file {log.upload.file_name}" if log.upload.file_name else "")
        )
    if log.process:
        p = log.process
        click.echo(f"  Process   {_code_words(p.code)} at {_when(p.timestamp)}")
        if p.total is not None:
            click.echo(f"  Records   {p.success} succeeded, {p.failure} failed, {p.total} total")
        for record in p.records:
            _echo_record(record)
    if log.download_code:
        click.echo(f"  Download  {_code_words(log.download_code)}")


def _echo_advice(code: str | None, explanation: str | None = None) -> None:
    """The server's own explanation first (sevis-mock says exactly what was wrong), then the general hint."""
    if explanation:
        click.echo(f"The server says: {explanation}")
    advice = known_hint(code)
    if advice:
        click.echo(f"What to do: {advice}")


def _with_hint(data: dict[str, Any], code: str | None) -> dict[str, Any]:
    """A result's JSON with the general hint beside the server's explanation (``explanation``)."""
    data["hint"] = known_hint(code)
    return data


def _failed_code(result: DownloadResult) -> str | None:
    """The code to advise on for a download: its own when not S0000, else the Process code when not S0000."""
    if result.code != "S0000":
        return result.code
    if result.log.process and not result.log.process.ok:
        return result.log.process.code
    return None


def _fresh_batch_id() -> str:
    return datetime.now().strftime("%Y%m%d%H%M%S")  # 14 characters


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "batch"


def save_download(result: DownloadResult, out: Path, batch_id: str) -> list[Path]:
    """Save the zip and its files (basenames only) into `out`; return the paths written."""
    import io
    import zipfile

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if result.zip_bytes is None:
        path = out / "sevis_transaction_log.xml"
        path.write_bytes(result.log.xml)
        return [path]
    zip_path = out / f"{_safe_name(batch_id)}.zip"
    zip_path.write_bytes(result.zip_bytes)
    written.append(zip_path)
    with zipfile.ZipFile(io.BytesIO(result.zip_bytes)) as archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/")).name
            if info.is_dir() or not name or name in (".", ".."):
                continue
            path = out / _safe_name(name)
            path.write_bytes(archive.read(info))
            written.append(path)
    return written


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


# --------------------------------------------------------------------------------------------
# Shared options
# --------------------------------------------------------------------------------------------
def _target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--org",
            "org_id",
            metavar="ORGID",
            help="School code or program number (default: from the document / connection).",
        ),
        click.option(
            "--user",
            "user_id",
            metavar="USERID",
            help="Batch user ID of an official (default: the organization's in the connection).",
        ),
        click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="Client certificate (PEM)."),
        click.option("--key", type=click.Path(exists=True, dir_okay=False), help="Private key of --cert (PEM)."),
        click.option(
            "--p12",
            type=click.Path(exists=True, dir_okay=False),
            help="Client certificate and key as PKCS#12 instead of --cert/--key.",
        ),
        click.option(
            "--p12-password",
            envvar=["SEVIS_MOCK_P12_PASSWORD", "SEVIS_P12_PASSWORD"],
            help="Password of --p12 (better given in the environment than on the command line).",
        ),
        click.option(
            "--ca",
            type=click.Path(exists=True, dir_okay=False),
            help="CA bundle that signed the server certificate (default: connection ca_cert, else the system store).",
        ),
        click.option(
            "--server", metavar="URL", help="Base URL, e.g. https://egov.ice.gov (default: connection base_url)."
        ),
        click.option(
            "--env",
            "environment",
            metavar="PREFIX",
            help="sevisbatch, sbtsevisbatch (default) or alphasevisbatch; or production, beta, alpha.",
        ),
        click.option(
            "--connection",
            metavar="PATH",
            help=f"Connection file (default: ${CONNECTION_ENV} or ./{DEFAULT_CONNECTION}).",
        ),
        click.option(
            "--timeout", type=float, default=60.0, show_default=True, help="HTTP timeout per request, in seconds."
        ),
        click.option(
            "--interval",
            type=float,
            default=2.0,
            show_default=True,
            help="Seconds between downloads while waiting (--wait).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _pick_opts(kwargs: dict[str, Any]) -> dict[str, Any]:
    keys = ("org_id", "user_id", "cert", "key", "p12", "p12_password", "ca", "server", "environment", "connection")
    return {k: kwargs.get(k) for k in keys}


def _next_download_command(target: Target, batch_id: str, kwargs: dict[str, Any]) -> str:
    parts = [
        "sevis-mock",
        "download",
        "--batch-id",
        batch_id,
        "--org",
        target.org_id,
        "--out",
        f"./{_safe_name(batch_id)}",
    ]
    for option, key in (
        ("--connection", "connection"),
        ("--server", "server"),
        ("--env", "environment"),
        ("--user", "user_id"),
        ("--cert", "cert"),
        ("--key", "key"),
        ("--p12", "p12"),
        ("--ca", "ca"),
    ):
        if kwargs.get(key):
            parts += [option, str(kwargs[key])]
    return " ".join(parts + ["--wait", "120"])


# --------------------------------------------------------------------------------------------
# upload
# --------------------------------------------------------------------------------------------
@click.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--batch-id", metavar="ID", help="Batch ID to send; REWRITES the document's header BatchID (14 characters)."
)
@_target_options
@click.option(
    "--wait",
    type=float,
    metavar="SECONDS",
    help="After a successful upload, poll downloads until processed (at most SECONDS).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the parsed result as JSON.")
@click.pass_context
def upload_command(
    ctx: click.Context,
    file: Path,
    batch_id: str | None,
    wait: float | None,
    as_json: bool,
    timeout: float,
    interval: float,
    **kwargs: Any,
) -> None:
    """Upload a batch FILE to SEVIS Batch (or sevis-mock) and report the Upload result.

    Exit code 0 when the upload is accepted (S0000) and, with --wait, processed without
    failures (S0000); 1 otherwise.
    """
    data = file.read_bytes()
    try:
        info = read_document_info(data)
    except SevisProtocolError as exc:
        info = None
        click.echo(
            f"Warning: {file} cannot be read as XML ({exc}); sending it unchanged (SEVIS will answer S0012).", err=True
        )
    if batch_id:
        if info is not None:
            data = replace_batch_id(data, batch_id)
    else:
        batch_id = info.batch_id if info else None
        if not batch_id:
            raise click.UsageError(f"{file} has no readable BatchHeader/BatchID; pass --batch-id")

    target = resolve_target(
        _pick_opts(kwargs),
        doc_org=info.org_id if info else None,
        doc_kind=info.kind if info else None,
        doc_user=info.user_id if info else None,
    )
    if info and info.org_id and info.org_id != target.org_id:
        click.echo(
            f"Warning: the document's header OrgID is {info.org_id} but the upload is sent "
            f"for {target.org_id}; SEVIS rejects such a batch (S0012).",
            err=True,
        )

    processed: DownloadResult | None = None
    timed_out: SevisTimeout | None = None
    try:
        with target.client(timeout) as client:
            result = client.upload(
                data, org_id=target.org_id, user_id=target.user_id, batch_id=batch_id, filename=file.name
            )
            if not as_json:
                _echo_upload(result, target)
            if result.ok and wait is not None:
                if not as_json:
                    click.echo(f"Waiting up to {wait:g} s for SEVIS to process batch {batch_id}...")
                try:
                    processed = client.wait_for_processing(
                        org_id=target.org_id,
                        user_id=target.user_id,
                        batch_id=batch_id,
                        timeout=wait,
                        interval=interval,
                        on_poll=None if as_json else _echo_poll,
                    )
                except SevisTimeout as exc:
                    timed_out = exc
    except SevisError as exc:
        raise click.ClickException(str(exc)) from exc

    if as_json:
        data_out: dict[str, Any] = {
            "upload": _with_hint(result.to_dict(), None if result.ok else result.code),
            "download": _with_hint(processed.to_dict(), _failed_code(processed)) if processed else None,
        }
        if timed_out is not None:
            data_out["error"] = str(timed_out)
        _echo_json(data_out)
    elif processed is not None:
        echo_log(processed.log)
        if processed.pdfs:
            click.echo("  PDFs      " + ", ".join(sorted(processed.pdfs)))
        failed = _failed_code(processed)
        if failed:
            _echo_advice(failed, processed.explanation)
        click.echo(f"To save the log and PDFs: {_next_download_command(target, batch_id, kwargs)}")
    elif result.ok:
        if timed_out is not None:
            click.echo(f"Not processed yet: {timed_out}")
        else:
            click.echo(
                "SEVIS processes the records next (alpha: seconds, beta: about 20 minutes, production: overnight)."
            )
        click.echo(f"Next: {_next_download_command(target, batch_id, kwargs)}")
    ok = result.ok and timed_out is None
    if processed is not None:
        ok = ok and processed.ok and processed.log.process is not None and processed.log.process.ok
    ctx.exit(0 if ok else 1)


def _echo_poll(result: DownloadResult, remaining: float) -> None:
    click.echo(f"  still {result.code or 'S0030'} (not yet processed); {remaining:.0f} s left", err=True)


def _echo_upload(result: UploadResult, target: Target) -> None:
    org = f"{target.org_id}" + (f" ({target.org_name})" if target.org_name else "")
    where = f"{target.base_url}/{target.environment}"
    if result.ok:
        click.echo(
            f"Upload {_code_words(result.code)}: batch {result.batch_id} accepted for {org}, "
            f"user {result.user_id}, at {where}."
        )
    else:
        click.echo(
            f"Upload {_code_words(result.code)}: batch {result.batch_id} REJECTED for {org}, "
            f"user {result.user_id}, at {where}."
        )
    upload = result.log.upload
    if upload:
        click.echo(
            f"  file {upload.file_name or result.file_name}, logged at {_when(upload.timestamp)}, "
            f"system {result.log.system or '-'}"
        )
    if not result.ok:
        _echo_advice(result.code, result.explanation)
        if result.code == "S0010":
            click.echo(f"  e.g. sevis-mock upload FILE --batch-id {_fresh_batch_id()}")


# --------------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------------
@click.command("download")
@click.option("--batch-id", required=True, metavar="ID", help="Batch ID of the upload.")
@_target_options
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the zip, the transaction log and the PDFs.",
)
@click.option(
    "--wait", type=float, metavar="SECONDS", help="Poll while SEVIS answers S0030 (not yet processed), at most SECONDS."
)
@click.option(
    "--method",
    type=click.Choice(["GET", "POST", "FORM"], case_sensitive=False),
    default="GET",
    show_default=True,
    help="GET query string, POST multipart, or POST urlencoded (FORM).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the parsed result as JSON.")
@click.pass_context
def download_command(
    ctx: click.Context,
    batch_id: str,
    out: Path,
    wait: float | None,
    method: str,
    as_json: bool,
    timeout: float,
    interval: float,
    **kwargs: Any,
) -> None:
    """Download a batch's transaction log and forms into --out and summarize them.

    Exit code 0 when the Download result is S0000, 1 otherwise.
    """
    target = resolve_target(_pick_opts(kwargs))
    try:
        with target.client(timeout) as client:
            if wait is not None:
                result = client.wait_for_processing(
                    org_id=target.org_id,
                    user_id=target.user_id,
                    batch_id=batch_id,
                    timeout=wait,
                    interval=interval,
                    method=method,
                    on_poll=None if as_json else _echo_poll,
                )
            else:
                result = client.download(org_id=target.org_id, user_id=target.user_id, batch_id=batch_id, method=method)
    except SevisTimeout as exc:
        click.echo(str(exc), err=True)
        if exc.last is not None and not as_json:
            echo_log(exc.last.log)
        ctx.exit(1)
    except SevisError as exc:
        raise click.ClickException(str(exc)) from exc

    written = save_download(result, out, batch_id)
    if as_json:
        data = _with_hint(result.to_dict(), _failed_code(result))
        data["saved"] = [str(p) for p in written]
        _echo_json(data)
    else:
        echo_log(result.log)
        pdf_paths = [p for p in written if p.suffix.lower() == ".pdf"]
        if pdf_paths:
            click.echo("PDFs saved:")
            for path in pdf_paths:
                click.echo(f"  {path} ({path.stat().st_size:,} bytes)")
        else:
            click.echo("PDFs saved: none")
        click.echo(f"Saved in {out}: " + ", ".join(p.name for p in written))
        failed = _failed_code(result)
        if failed:
            _echo_advice(failed, result.explanation)
    ctx.exit(0 if result.ok else 1)


__all__ = ["upload_command", "download_command", "echo_log", "read_connection", "resolve_target", "save_download"]

if __name__ == "__main__":  # pragma: no cover - `python -m sevis_mock.harness.cli upload ...`
    group = click.Group("sevis-mock", commands=[upload_command, download_command])
    group(prog_name=os.path.basename(sys.argv[0]))
