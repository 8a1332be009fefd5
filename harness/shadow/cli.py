"""The `sevis-mock proxy` and `sevis-mock shadow-report` commands."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

import click


@click.command("proxy")
@click.option(
    "--upstream", required=True, metavar="URL", help="SEVIS's environment root, e.g. https://<beta host>/sbtsevisbatch."
)
@click.option(
    "--record",
    "record_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    metavar="DIR",
    help="Where each exchange is recorded (created if missing).",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The college's client certificate (PEM) registered for batch.",
)
@click.option(
    "--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="Its private key (PEM)."
)
@click.option(
    "--p12",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The certificate and key as one PKCS#12 file instead.",
)
@click.option(
    "--p12-password",
    default=None,
    envvar="SEVIS_MOCK_P12_PASSWORD",
    help="The PKCS#12 file's password (or SEVIS_MOCK_P12_PASSWORD).",
)
@click.option(
    "--upstream-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CA that issued the upstream's server certificate (default: the system's trust store).",
)
@click.option(
    "--listen",
    default="127.0.0.1:8444",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the college's client connects (port 0 picks a free one).",
)
@click.option(
    "--tls-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".sevis-mock-proxy"),
    show_default=True,
    help="The proxy's own development CA and server certificate.",
)
@click.option(
    "--shadow",
    is_flag=True,
    help="Also put each exchange to an embedded mock and compare the answers (see shadow-report).",
)
@click.option(
    "--keep-personal-data",
    is_flag=True,
    help="Record documents, logs and PDFs as they are (by default personal data is replaced by fakes).",
)
@click.option(
    "--schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="With --shadow: the embedded mock validates with this XSD release folder. Repeatable.",
)
def proxy_command(
    upstream,
    record_dir,
    cert,
    key,
    p12,
    p12_password,
    upstream_ca,
    listen,
    tls_dir,
    shadow,
    keep_personal_data,
    schemas,
) -> None:
    """Forward a college's batch traffic to SEVIS, answer with SEVIS's replies unchanged, and record it.

    Point the college's client at the printed URL and have it trust the printed CA. Stop with Ctrl-C.
    """
    from datetime import UTC, datetime

    from werkzeug.serving import make_server

    from sevis_mock.server.recordings import Recording

    from .proxy import Proxy, Upstream, proxy_tls_context
    from .scrub import Scrubber

    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if (cert is None) == (p12 is None):
        raise click.UsageError("give the college's client certificate: --cert and --key, or --p12")
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit():
        raise click.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen")
    if p12 is not None:
        from sevis_mock.harness.client import SevisError, _pkcs12_to_pem

        private = tempfile.mkdtemp(prefix="sevis-proxy-")
        os.chmod(private, 0o700)
        try:
            cert_pair = _pkcs12_to_pem(p12, p12_password, private)
        except SevisError as exc:
            raise click.BadParameter(str(exc), param_hint="--p12")
    else:
        cert_pair = (str(cert), str(key))
    scrubber = Scrubber()
    recording = Recording.create(
        record_dir,
        upstream=upstream,
        scrubbed=not keep_personal_data,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    shadow_worker = None
    if shadow:
        from .shadow import Shadow, ShadowMock

        extra = [a for folder in schemas for a in ("--schemas", str(folder))]
        mock = ShadowMock(Path(record_dir) / "shadow-mock", *extra)
        shadow_worker = Shadow(record_dir, mock, keep_personal_data=keep_personal_data, scrubber=scrubber)
    app = Proxy(
        Upstream(upstream, cert_pair, str(upstream_ca) if upstream_ca else True),
        recording,
        keep_personal_data=keep_personal_data,
        shadow=shadow_worker,
        scrubber=scrubber,
    )
    context, ca_path = proxy_tls_context(Path(tls_dir), host.strip("[]"))
    server = make_server(host.strip("[]"), int(port_text), app, threaded=True, ssl_context=context)
    bound = server.socket.getsockname()[1]
    url = f"https://{host}:{bound}"
    written = Path(record_dir) / "proxy.json"
    partial = written.with_suffix(".tmp")  # renamed into place whole: a script waiting for the file never reads half
    partial.write_text(
        json.dumps(
            {"url": url, "ca_cert": str(Path(ca_path).resolve()), "upstream": upstream, "pid": os.getpid()}, indent=2
        )
    )
    partial.replace(written)
    click.echo(
        f"sevis-mock proxy at {url} forwards to {upstream}\n"
        f"  point the college's client at {url}/<environment>/action/batchUpload (and batchDownload)\n"
        f"  and have it trust {ca_path}\n"
        f"  recording to {record_dir}"
        + (" (personal data kept)" if keep_personal_data else " (personal data replaced by fakes)")
        + ("\n  shadow: each exchange is also compared with an embedded mock" if shadow else ""),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        app.close()
        if shadow:
            click.echo(
                f"shadow comparisons in {Path(record_dir) / 'shadow'}; run `sevis-mock shadow-report {record_dir}`"
            )


@click.command("shadow-report")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as JSON.",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as one HTML page.",
)
def shadow_report_command(directory, json_out, html_out) -> None:
    """Summarize a shadow recording: agreements, differences by kind, a minimal document for each.

    Exit code: 0 the mock agreed with SEVIS on every compared exchange, 1 differences found, 2 usage errors.
    """
    from .report import build, html_page, terminal

    if not (directory / "recording.json").is_file():
        raise click.BadParameter(f"{directory} is not a recording (no recording.json)", param_hint="DIRECTORY")
    report = build(directory)
    click.echo(terminal(report))
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2))
    if html_out:
        html_out.write_text(html_page(report))
    sys.exit(1 if report.groups else 0)
