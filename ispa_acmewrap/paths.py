"""Every path ispa-cert touches, derived from one root prefix.

This is the only module that spells absolute paths. Tests and the demo give a
sandbox directory as the root (`--root DIR` or `ISPA_ROOT`), so they never touch
the machine's real /etc or /data.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "ISPA_ROOT"
VENDOR_ENV = "ISPA_VENDOR_DIR"
CHALLENGE_URL_PATH = "/.well-known/acme-challenge"


def _under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def from_root(cls, root: str | os.PathLike[str] | None = None) -> "Paths":
        chosen = root if root is not None else os.environ.get(ROOT_ENV) or "/"
        return cls(Path(chosen).resolve())

    # --- Apache -----------------------------------------------------------
    @property
    def apache_confdir(self) -> Path:
        return _under(self.root, "/etc/apache2")

    @property
    def apache_main_config(self) -> Path:
        """The main config acme.sh's --apache mode appends its Alias to."""
        return self.apache_confdir / "apache2.conf"

    @property
    def sites_available(self) -> Path:
        return self.apache_confdir / "sites-available"

    @property
    def sites_enabled(self) -> Path:
        return self.apache_confdir / "sites-enabled"

    @property
    def mods_available(self) -> Path:
        return self.apache_confdir / "mods-available"

    @property
    def mods_enabled(self) -> Path:
        return self.apache_confdir / "mods-enabled"

    @property
    def ispadmin_site(self) -> Path:
        return self.sites_available / "ispadmin.conf"

    @property
    def temp_site(self) -> Path:
        return self.sites_available / "temp_isp.conf"

    @property
    def temp_site_enabled(self) -> Path:
        return self.sites_enabled / "temp_isp.conf"

    @property
    def vhost_include(self) -> Path:
        """The file this tool generates; ispadmin.conf includes it."""
        return _under(self.root, "/usr/local/script/ispadmin/conf/apache_ispadmin_vhost.conf")

    # --- certificates and acme.sh ----------------------------------------
    @property
    def cert_home(self) -> Path:
        return _under(self.root, "/data/ispadmin_cert")

    @property
    def acme_home(self) -> Path:
        return self.cert_home / "acme"

    @property
    def acme_script(self) -> Path:
        return self.acme_home / "acme.sh"

    @property
    def acme_account_conf(self) -> Path:
        return self.acme_home / "account.conf"

    @property
    def acme_ca_dir(self) -> Path:
        return self.acme_home / "ca"

    @property
    def acme_log(self) -> Path:
        return self.acme_home / "acme.sh.log"

    @property
    def live_dir(self) -> Path:
        return self.cert_home / "live"

    def live(self, name: str) -> "LiveFiles":
        directory = self.live_dir / name
        return LiveFiles(directory, directory / "cert.pem", directory / "key.pem", directory / "fullchain.pem")

    @property
    def challenge_dir(self) -> Path:
        return self.cert_home / "challenge"

    @property
    def acme_webroot(self) -> Path:
        """The webroot acme.sh validates through: its .well-known/acme-challenge leads to challenge_dir."""
        return self.cert_home / "webroot"

    @property
    def state_dir(self) -> Path:
        return self.cert_home / "ispa-cert"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def pending_marker(self) -> Path:
        """Present while an Apache change is between backup and verified reload."""
        return self.state_dir / "pending-apache-change.json"

    @property
    def backups_dir(self) -> Path:
        return self.cert_home / "backups"

    @property
    def legacy_acme_dirs(self) -> tuple[Path, Path]:
        """The other two directories the guide's reinstall removes."""
        return (_under(self.root, "/root/.acme.sh"), _under(self.root, "/root/acme.sh"))

    # --- system -----------------------------------------------------------
    @property
    def log_file(self) -> Path:
        return _under(self.root, "/var/log/ispa-cert.log")

    @property
    def lock_file(self) -> Path:
        return _under(self.root, "/run/lock/ispa-cert.lock")

    @property
    def crontab(self) -> Path:
        return _under(self.root, "/etc/crontab")

    @property
    def command(self) -> Path:
        """Where `make install` puts ispa-cert on root's PATH: the path the crontab names.

        It stays the same across upgrades; the Makefile's SBINDIR says the same.
        """
        return _under(self.root, "/usr/local/sbin/ispa-cert")

    @property
    def cron_d_dir(self) -> Path:
        return _under(self.root, "/etc/cron.d")

    @property
    def root_crontab(self) -> Path:
        """root's own crontab (`crontab -e`), where acme.sh --install puts its --cron line."""
        return _under(self.root, "/var/spool/cron/crontabs/root")

    @property
    def root_shell_rc_files(self) -> tuple[Path, ...]:
        """root's shell start-up files acme.sh --install adds its acme.sh.env / acme.sh.csh line to."""
        return tuple(_under(self.root, f"/root/{name}") for name in (".bashrc", ".profile", ".bash_profile",
                                                                      ".zshrc", ".cshrc", ".tcshrc"))

    # --- the vendored acme.sh, shipped beside the package ------------------
    @property
    def vendor_acme_dir(self) -> Path:
        """vendor/acme.sh of the checkout this code runs from, else of the installation.

        `make install` puts the virtual environment in PREFIX/venv and acme.sh in
        PREFIX/vendor/acme.sh, so an installation finds it beside its venv (sys.prefix).
        """
        override = os.environ.get(VENDOR_ENV)
        if override:
            return Path(override)
        checkout = Path(__file__).resolve().parent.parent / "vendor" / "acme.sh"
        if checkout.is_dir():
            return checkout
        return Path(sys.prefix).resolve().parent / "vendor" / "acme.sh"

    @property
    def vendor_acme_script(self) -> Path:
        return self.vendor_acme_dir / "acme.sh"


@dataclass(frozen=True)
class LiveFiles:
    """Stable copies acme.sh --install-cert writes and Apache reads."""

    directory: Path
    cert: Path
    key: Path
    fullchain: Path
