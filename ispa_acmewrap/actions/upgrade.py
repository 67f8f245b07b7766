"""`ispa-cert upgrade`: the vendored acme.sh when it is newer than the installed one.

Installing over the acme home keeps acme.sh's account (ca/, account.conf) and the
certificates (they live in the certificate home). An installed version that cannot
be read or parsed is "unknown": it is never taken for older or newer, so it is left
alone. `--online` runs acme.sh's own --upgrade instead (downloads, needs internet).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from .. import acme, runner
from ..console import Console
from ..errors import CommandFailed, OperationFailed, PreconditionMissing
from ..i18n import _
from ..settings import Settings
from .acme_home import install_acme, script_version, vendored_script
from .common import require_root

NOT_INSTALLED = "not installed"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class UpgradeResult:
    action: str  # "installed", "upgraded", "current", "kept-newer", "kept-unknown" or "online"
    before: str  # a version, UNKNOWN or NOT_INSTALLED
    after: str
    vendored: str


def compare(installed: Version | None, present: bool, vendored: Version) -> str:
    """What to do: "install", "upgrade", "current", "newer" (installed is) or "unknown"."""
    if not present:
        return "install"
    if installed is None:
        return "unknown"
    if vendored > installed:
        return "upgrade"
    return "current" if vendored == installed else "newer"


def label(version: Version | None, present: bool) -> str:
    if not present:
        return NOT_INSTALLED
    return str(version) if version is not None else UNKNOWN


def installed_version(settings: Settings) -> str:
    script = settings.paths.acme_script
    return label(script_version(script), script.exists())


def _vendored_version(settings: Settings) -> Version:
    script = vendored_script(settings)
    version = script_version(script)
    if version is None:
        raise PreconditionMissing(_("the vendored acme.sh ({script}) does not report a version").format(script=script),
                                  hint=_("run `make install` in the ispa-cert checkout to unpack it again"))
    return version


def run(settings: Settings, console: Console) -> UpgradeResult:
    """Install the vendored acme.sh when it is newer than the installed one (or none is installed).

    Returns what was done (installed, upgraded, current, kept-newer, kept-unknown) with the
    versions. Raises PreconditionMissing (not root, the vendored acme.sh missing).
    """
    require_root()
    vendored = _vendored_version(settings)
    script = settings.paths.acme_script
    installed = script_version(script)
    before = label(installed, script.exists())
    verdict = compare(installed, script.exists(), vendored)
    if verdict in ("install", "upgrade"):
        install_acme(settings, console)
        action = "installed" if verdict == "install" else "upgraded"
        return UpgradeResult(action, before, installed_version(settings), str(vendored))
    action = {"current": "current", "newer": "kept-newer", "unknown": "kept-unknown"}[verdict]
    return UpgradeResult(action, before, before, str(vendored))


def run_online(settings: Settings, console: Console) -> UpgradeResult:
    """acme.sh --upgrade: its development branch from the internet. Returns the versions before and
    after; raises PreconditionMissing (not root, none installed), OperationFailed (the upgrade failed)."""
    require_root()
    paths = settings.paths
    if not paths.acme_script.exists():
        raise PreconditionMissing(_("acme.sh is not installed in {directory}").format(directory=paths.acme_home),
                                  hint=_("`ispa-cert upgrade` without --online installs the vendored one"))
    before = installed_version(settings)
    console.step(_("Running acme.sh --upgrade (downloads acme.sh from the internet)"))
    try:
        runner.run(acme.upgrade_command(paths), echo=console.stream, timeout=300)
    except CommandFailed as failed:
        raise OperationFailed(_("acme.sh --upgrade failed (exit code {code}); acme.sh {version} is still "
                                "installed").format(code=failed.returncode, version=before),
                              hint=_("it needs HTTPS access to github.com; without internet, "
                                     "`ispa-cert upgrade` installs the vendored version")) from failed
    return UpgradeResult("online", before, installed_version(settings), str(_vendored_version(settings)))
