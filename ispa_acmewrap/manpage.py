"""The manual page ispa-cert(8), written from the commands' own --help at install time.

`make install` runs `python -m ispa_acmewrap.manpage > ispa-cert.8`. Every command's help
is the text of its section, so the page never disagrees with `--help`. help2man would
cover only the top-level --help and would add a Debian package to a production server.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import typer
from typer.main import get_command

from . import __version__
from .paths import Paths

PROGRAM = "ispa-cert"
SECTION = "8"
SEE_ALSO = r"\fBacme.sh\fR(1), \fBapache2ctl\fR(8), \fBcrontab\fR(5), \fBlogrotate\fR(8)"


def escape(text: str) -> str:
    """roff-safe text: backslashes doubled, and no line starting with a control character."""
    lines = text.replace("\\", "\\e").splitlines()
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in lines)


def _commands(command, context) -> list[tuple[str, str]]:
    """(full name, --help text) for the program and every command below it, depth first."""
    found = [(context.command_path, command.get_help(context))]
    for name in getattr(command, "list_commands", lambda _: [])(context):
        child = command.get_command(context, name)
        if child is None or child.hidden:
            continue
        with child.make_context(name, [], parent=context, resilient_parsing=True) as child_context:
            found.extend(_commands(child, child_context))
    return found


def _files(paths: Paths) -> list[tuple[str, str]]:
    return [
        (str(paths.command), "the command (a link into the installation)"),
        (str(paths.cert_home), "acme.sh, its account and certificates; live/NAME/ as Apache uses them"),
        (str(paths.state_file), "names on record, failed validations, issuance history"),
        (str(paths.backups_dir), "backups made before every Apache change"),
        (str(paths.vhost_include), "the generated Apache include"),
        (str(paths.crontab), "the one renewal entry, marked # ispa-cert renew"),
        (str(paths.log_file), "the log (rotated weekly by logrotate)"),
    ]


def render(app: typer.Typer, moment: datetime | None = None) -> str:
    """The whole page as roff text."""
    command = get_command(app)
    day = (moment or datetime.now(timezone.utc)).strftime("%Y-%m-%d")
    with command.make_context(PROGRAM, [], resilient_parsing=True) as context:
        sections = _commands(command, context)
        summary = (command.help or "").strip().splitlines()[0].rstrip(".")
    out = [f'.TH {PROGRAM.upper()} {SECTION} "{day}" "{PROGRAM} {__version__}" "System Administration"',
           ".SH NAME", f"{PROGRAM} \\- {escape(summary)}",
           ".SH SYNOPSIS", f".B {PROGRAM}", r"[\fIGLOBAL OPTIONS\fR] \fICOMMAND\fR [\fIOPTIONS\fR]",
           ".SH DESCRIPTION", ".nf", escape(sections[0][1]), ".fi", ".SH COMMANDS"]
    for name, text in sections[1:]:
        out += [f'.SS "{name}"', ".nf", escape(text), ".fi"]
    out.append(".SH FILES")
    for path, meaning in _files(Paths.from_root("/")):
        out += [".TP", f"\\fI{escape(path)}\\fR", escape(meaning)]
    out += [".SH SEE ALSO", SEE_ALSO, ""]
    return "\n".join(out)


def main() -> None:
    from .i18n import set_language

    set_language("en")  # the page goes to man8/, the English manual, whatever the installer's locale
    from .cli import app

    sys.stdout.write(render(app))


if __name__ == "__main__":
    main()
