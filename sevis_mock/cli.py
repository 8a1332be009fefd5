"""The `sevis-mock` command: the server's commands (``serve``, ``reset``, ``wait``, ``scenarios``, ``certs``, from
``sevis_mock.server.cli``) and the client's (``upload``, ``download``, ``validate``, ``rehearse``, ``proxy``, ...,
from ``sevis_mock.harness``). It sits above both packages, so that neither imports the other to offer a command.

Start-up is kept short (``--help`` and ``--version`` import click and nothing heavy): the commands that live
elsewhere are imported only when run (:data:`LAZY_COMMANDS`), and each command imports what it needs inside.
Every option can also be given as an environment variable, shown in ``--help``: ``SEVIS_MOCK_<OPTION>`` for
``serve``, ``reset``, ``wait`` and ``certs issue`` (``SEVIS_MOCK_DATA_DIR``, ``SEVIS_MOCK_PORT``, ...), and
``SEVIS_MOCK_<COMMAND>_<OPTION>`` for the others (``SEVIS_MOCK_UPLOAD_WAIT``, ...).
"""

from __future__ import annotations

import click

from sevis_mock.server import cli as server_cli
from sevis_mock.server.cli import ENV_PREFIX, show_envvars

#: Commands defined in other modules: name -> (module, attribute, the help's first sentence for `--help`).
LAZY_COMMANDS = {
    "upload": (
        "sevis_mock.harness.cli",
        "upload_command",
        "Upload a batch FILE to SEVIS Batch (or sevis-mock) and report the Upload result.",
    ),
    "download": (
        "sevis_mock.harness.cli",
        "download_command",
        "Download a batch's transaction log and forms into --out and summarize them.",
    ),
    "validate": (
        "sevis_mock.harness.validate",
        "validate_command",
        "The verdict sevis-mock's server would give each batch FILE (or every .xml under DIR).",
    ),
    "rehearse": (
        "sevis_mock.harness.rehearsal.cli",
        "rehearse_command",
        "Run SEVIS's 15-step batch beta-testing procedure and report each step (a school's, or with --sponsor an "
        "exchange-visitor sponsor's).",
    ),
    "codes": (
        "sevis_mock.server.codes",
        "codes_command",
        "Every SEVIS result code: implemented or not (and why), its condition, and what provokes it.",
    ),
    "proxy": (
        "sevis_mock.harness.shadow.cli",
        "proxy_command",
        "Forward a college's batch traffic to SEVIS, answer with SEVIS's replies unchanged, and record it.",
    ),
    "shadow-report": (
        "sevis_mock.harness.shadow.cli",
        "shadow_report_command",
        "Summarize a shadow recording: agreements, differences by kind, a minimal document for each.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands from other modules are imported when one of them runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attribute, _ = LAZY_COMMANDS[name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(show_envvars(command, f"{ENV_PREFIX}_{name.replace('-', '_').upper()}"), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, short_help(LAZY_COMMANDS[name][2], limit)))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def short_help(sentence: str, limit: int) -> str:
    """``sentence`` cut to ``limit`` characters at a word, as click shortens a command's help."""
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 3].rsplit(" ", 1)[0] + "..."


@click.group(cls=LazyGroup, context_settings={"auto_envvar_prefix": ENV_PREFIX})
@server_cli.VERSION_OPTION
def main() -> None:
    """sevis-mock: an offline stand-in for SEVIS Batch (upload, processing, transaction logs, forms)."""


for _name, _command in server_cli.main.commands.items():
    main.add_command(_command, _name)
show_envvars(main, ENV_PREFIX)
