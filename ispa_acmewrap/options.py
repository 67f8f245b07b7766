"""How the command line is read: the options several commands share (declared once, as Annotated
aliases) and typer's command classes adapted — the top-level list shows whole summaries, the
headings speak the administrator's language, doctor's usage errors exit 3 as a plugin's do.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from .helptext import OPTION, summary
from .i18n import N_, _


class _Formatter(TyperCommand.context_class.formatter_class):  # click's HelpFormatter (typer bundles click)
    """click's help layout, its headings in the administrator's language."""

    HEADINGS = (N_("Options"), N_("Commands"), N_("Arguments"))

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage:") + " " if prefix is None else prefix)

    def section(self, name: str):
        return super().section(_(name))


class _Context(TyperCommand.context_class):
    formatter_class = _Formatter


class _WholeSummary:
    """The top-level list shows a command's whole first paragraph, not its first 45 characters and "…"."""

    context_class = _Context

    def get_short_help_str(self, limit: int = 45) -> str:
        return summary(self.help or "")

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _("Show this message and exit.")
        return option


class Command(_WholeSummary, TyperCommand):
    pass


class Group(_WholeSummary, TyperGroup):
    pass


class PluginCommand(Command):
    """A command whose usage errors exit 3 (UNKNOWN), as monitoring plugins do, instead of 2 (CRITICAL)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as error:
            if getattr(error, "exit_code", None) == 2:
                error.exit_code = 3  # UNKNOWN
            raise


def app(help: str) -> typer.Typer:
    """A command group whose --help lists whole summaries, at most 100 columns wide, with -h as well."""
    return typer.Typer(help=help, cls=Group, rich_markup_mode=None, no_args_is_help=True, add_completion=False,
                       context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})


class Language(str, Enum):
    cs = "cs"
    en = "en"


class KeyType(str, Enum):
    ec = "ec"
    rsa = "rsa"


def option(name: str, *more: str, key: str | None = None, **settings) -> typer.models.OptionInfo:
    """An option whose help is helptext.OPTION[key or name]; a plain flag gets no --no-NAME twin."""
    return typer.Option(name, *more, help=OPTION[key or name], **settings)


def flag(name: str, *more: str, key: str | None = None):
    """A plain on-switch."""
    return Annotated[bool, option(name, *more, key=key)]


# Options several commands share: each declared once.
Yes = flag("--yes", "-y")
Email = Annotated[Optional[str], option("--email", metavar="ADDRESS")]
ServerIps = Annotated[Optional[list[str]], option("--server-ip", metavar="ADDR")]
DnsServer = Annotated[Optional[str], option("--dns-server", metavar="HOST[:PORT]", envvar="ISPA_DNS_SERVER",
                                             show_envvar=False)]
DnsTimeout = Annotated[Optional[float], option("--dns-timeout", metavar="SECONDS")]
Json = flag("--json")


def value(name: str, metavar: str, **settings):
    """An option taking one text value."""
    return Annotated[Optional[str], option(name, metavar=metavar, **settings)]
