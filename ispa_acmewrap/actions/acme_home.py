"""acme.sh in its home: installed from vendor/ without network, and the version a script reports.

`ispa-cert install` is install_acme alone; issue (ensure_installed), repair and upgrade
(install_acme) and doctor (script_version) share the rest.
"""

from __future__ import annotations

import logging
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .. import acme, runner
from ..console import Console
from ..errors import PreconditionMissing
from ..files import private_directory
from ..i18n import _
from ..settings import Settings

log = logging.getLogger(__name__)


def prepare_directories(settings: Settings) -> None:
    """The homes acme.sh needs before it runs; key directories private, challenges readable."""
    paths = settings.paths
    paths.cert_home.mkdir(parents=True, exist_ok=True)
    paths.cert_home.chmod(0o755)  # Apache's user must traverse it to reach the challenge dir
    private_directory(paths.acme_home)
    private_directory(paths.live_dir)
    paths.challenge_dir.mkdir(parents=True, exist_ok=True)
    paths.challenge_dir.chmod(0o755)


def vendored_script(settings: Settings) -> Path:
    script = settings.paths.vendor_acme_script
    if not script.exists():
        raise PreconditionMissing(_("the vendored acme.sh is missing ({script})").format(script=script),
                                  hint=_("run `make install` in the ispa-cert checkout"))
    return script


def script_version(script: Path) -> Version | None:
    """The version an acme.sh script reports; None when missing or unparsable (never 'older')."""
    if not script.exists():
        return None
    result = runner.run(acme.version_command(script), ok_codes=range(256))
    raw = acme.parse_version(result.output)
    try:
        return Version(raw) if raw else None
    except InvalidVersion:
        log.info("acme.sh reported an unparsable version: %r", raw)
        return None


def install_acme(settings: Settings, console: Console, email: str | None = None) -> Version | None:
    """acme.sh from vendor/ into the acme home (`ispa-cert install`; no network); the account and
    certificates there are kept. Returns the version now installed (None: unknown). Raises
    PreconditionMissing when the vendored script is missing, CommandFailed when its installer fails."""
    script = vendored_script(settings)
    prepare_directories(settings)
    console.step(_("Installing acme.sh into {directory}").format(directory=settings.paths.acme_home))
    runner.run(acme.install_command(settings.paths, script, email), cwd=script.parent)
    version = script_version(settings.paths.acme_script)
    console.say(_("acme.sh {version} installed.").format(version=version or _("(unknown version)")))
    return version


def ensure_installed(settings: Settings, console: Console, email: str | None = None) -> None:
    """The homes acme.sh needs, and acme.sh itself when it is not installed yet (install_acme)."""
    prepare_directories(settings)
    if not settings.paths.acme_script.exists():
        install_acme(settings, console, email)
