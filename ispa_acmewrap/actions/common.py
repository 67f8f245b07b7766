"""Small steps several commands share."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from .. import apache, runner
from ..apache import VirtualHost
from ..errors import PreconditionMissing
from ..settings import Settings


def now() -> datetime:
    return datetime.now(timezone.utc)


def require_root() -> None:
    if os.geteuid() != 0:
        raise PreconditionMissing("ispa-cert changes Apache and /data/ispadmin_cert: run it as root",
                                  hint="sudo ispa-cert …")


def require_apache(settings: Settings) -> None:
    paths = settings.paths
    if not paths.apache_confdir.is_dir():
        raise PreconditionMissing(f"Apache's configuration directory {paths.apache_confdir} does not exist",
                                  hint="install Apache 2.4 (apt-get install apache2)")
    if not paths.ispadmin_site.exists():
        raise PreconditionMissing(f"{paths.ispadmin_site} does not exist",
                                  hint="create it with the ISPadmin port-80 virtual host, as the ISPadmin guide shows")


def virtual_hosts(settings: Settings) -> list[VirtualHost]:
    """What Apache itself says it serves (apache2ctl -S)."""
    result = runner.run(apache.ctl_command("-S"), env=apache.environment(settings.paths))
    return apache.parse_virtual_hosts(result.output)


def log_since(log_file: Path, offset: int) -> str:
    """What a program appended to its log file after `offset` (acme.sh's full error is only there)."""
    if not log_file.exists():
        return ""
    with log_file.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")
