"""A server where certificate.pl has run for years, built on a running test stack.

What such a server has, made here with the real acme.sh against Pebble:
- acme.sh installed by itself into ROOT/data/ispadmin_cert/acme (`--install --home … --cert-home …`),
  and a second copy in ROOT/root/.acme.sh, each sourced from root's .bashrc and .cshrc;
- the admin interface's certificate RSA 2048 in `NAME/` (acme.sh 2.x's default layout), the client
  portal's ECC in `NAME_ecc/`, both issued in `--apache` mode with the guide's --home/--certhome
  (acme.sh 3.1.x leaves its challenge Alias in apache2.conf when told the config path: kept, as found);
- the generated include with the portal's port-80 vhost and one `*:443` vhost per name pointing at
  acme.sh's NAME.cer, NAME.key and ca.cer, with lines the administrator added by hand;
- the guide's weekly line in /etc/crontab, a copy in /etc/cron.d/, and acme.sh's own `--cron`
  line in root's crontab.

Every path is under the stack's sandbox root; HOME points at ROOT/root so acme.sh edits the
sandbox's .bashrc, never the machine's. acme.sh is installed with --nocron: the cron lines are
written here, into the sandbox's files.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ispa_acmewrap.paths import Paths
from tests.factories import ADMIN, PORTAL
from tests.stack import PORTAL_DOCROOT, Stack

LEGACY_CRON_LINE = ("00 05 * * 7   root  {acme}/acme.sh --apache --renewAll --home {acme} "
                    "--certhome {certs} #letsencrypt renew")
ADMIN_MARKERS = ("Alias /ispadmin-stats", "Require ip 127.0.0.1", 'Header always set X-Ispadmin "legacy"',
                 "SSLProtocol all -SSLv3", "ErrorLog ${APACHE_LOG_DIR}/portal_ssl_error.log")
VENDOR_ACME = Path(__file__).resolve().parent.parent / "vendor" / "acme.sh"


@dataclass(frozen=True)
class LegacyServer:
    stack: Stack
    rsa_name: str = ADMIN
    ecc_name: str = PORTAL

    @property
    def paths(self) -> Paths:
        return self.stack.paths

    @property
    def home(self) -> Path:
        return self.paths.root / "root"

    @property
    def old_acme_home(self) -> Path:
        return self.home / ".acme.sh"

    @property
    def cron_d_file(self) -> Path:
        return self.paths.root / "etc" / "cron.d" / "ispadmin-cert"

    @property
    def root_crontab(self) -> Path:
        return self.paths.root / "var" / "spool" / "cron" / "crontabs" / "root"

    def acme_env(self) -> dict[str, str]:
        """What acme.sh typed by hand on this (sandboxed) server sees: the sandbox Apache, the sandbox HOME."""
        return {**os.environ, "HOME": str(self.home), "SHELL": "/bin/bash",
                "APACHE_CONFDIR": str(self.paths.apache_confdir)}

    def guide_renew_all(self, force: bool = True) -> subprocess.CompletedProcess:
        """The guide's manual (forced) renewal, typed by hand: no ispa-cert involved."""
        acme = self.paths.acme_home
        argv = [str(acme / "acme.sh"), "--apache", "--renewAll", "--home", str(acme),
                "--certhome", str(self.paths.cert_home), *(["--force"] if force else [])]
        return subprocess.run(argv, env=self.acme_env(), capture_output=True, text=True, timeout=300)

    def issue_by_hand(self, name: str, key_length: str = "ec-256") -> None:
        """A certificate the administrator got by hand with the installed acme.sh (nothing serves it)."""
        paths = self.paths
        _run([str(paths.acme_script), "--issue", "--apache", "-d", name, "--keylength", key_length,
              "--home", str(paths.acme_home), "--certhome", str(paths.cert_home),
              "--server", self.stack.pebble.directory_url], self.issuing_env())

    def issuing_env(self) -> dict[str, str]:
        return {**self.acme_env(), "APACHE_HTTPD_CONF": str(self.paths.apache_main_config),
                "ACME_DIR": str(self.paths.root / "home" / ".acme")}  # acme.sh's default /home/.acme, sandboxed

    def served_file(self, name: str) -> Path:
        return self.paths.cert_home / (name if name == self.rsa_name else f"{name}_ecc") / f"{name}.cer"


def build_legacy_server(stack: Stack) -> LegacyServer:
    """Turn the stack's fresh sandbox Apache into a server certificate.pl has managed (≈10 s)."""
    server = LegacyServer(stack)
    paths = stack.paths
    env = server.issuing_env()
    server.home.mkdir(parents=True, exist_ok=True)
    for rc in (".bashrc", ".cshrc"):
        (server.home / rc).write_text(f"# {rc}: executed by the shell for non-login shells.\nalias ll='ls -l'\n")
    _run([str(VENDOR_ACME / "acme.sh"), "--install", "--nocron", "--home", str(paths.acme_home),
          "--cert-home", str(paths.cert_home), "--accountemail", "admin@ispa.test"], env, cwd=VENDOR_ACME)
    _run([str(VENDOR_ACME / "acme.sh"), "--install", "--nocron"], env, cwd=VENDOR_ACME)  # ~/.acme.sh
    _move_portal_into_include(stack)
    _ctl(stack, "graceful")
    for name, key in ((ADMIN, "2048"), (PORTAL, "ec-256")):
        _run([str(paths.acme_script), "--issue", "--apache", "-d", name, "--keylength", key,
              "--home", str(paths.acme_home), "--certhome", str(paths.cert_home),
              "--server", stack.pebble.directory_url, "--ca-bundle", str(stack.pebble.api_ca.ca_cert)], env)
    _write_ssl_vhosts(stack, server)
    for module in ("ssl", "headers"):
        _run(["a2enmod", "-q", module], env)
    _ctl(stack, "configtest")
    _ctl(stack, "graceful")
    _write_cron(server)
    return server


def _run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"legacy fixture: {' '.join(argv)} failed ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return result.stdout


def _ctl(stack: Stack, action: str) -> None:
    stack.apache.ctl(action)


def _move_portal_into_include(stack: Stack) -> None:
    """certificate.pl's layout: ispadmin.conf holds the admin vhost, the include the portal's port-80 vhost."""
    site = stack.paths.ispadmin_site
    text = site.read_text()
    start = text.index(f"<VirtualHost *:{stack.apache.http_port}>\n ServerName {PORTAL}")
    end = text.index("</VirtualHost>\n", start) + len("</VirtualHost>\n\n")
    site.write_text(text[:start] + text[end:])
    portal_root = stack.apache.docroot(PORTAL_DOCROOT)
    stack.paths.vhost_include.write_text(
        f"<VirtualHost *:{stack.apache.http_port}>\n"
        f"\tServerName {PORTAL}\n"
        f"\tDocumentRoot {portal_root}\n"
        f"\t<Directory {portal_root}>\n\t\tRequire all granted\n\t</Directory>\n"
        "</VirtualHost>\n")


def _write_ssl_vhosts(stack: Stack, server: LegacyServer) -> None:
    """The *:443 vhosts certificate.pl appended, with the administrator's own lines."""
    paths, port = stack.paths, stack.apache.https_port
    admin_root = stack.apache.docroot("/data/support/ispadmin/new/www")
    portal_root = stack.apache.docroot(PORTAL_DOCROOT)
    stats = paths.root / "data" / "support" / "stats"
    stats.mkdir(parents=True, exist_ok=True)
    (stats / "index.html").write_text("<h1>stats</h1>\n")
    blocks = []
    for name, docroot in ((ADMIN, admin_root), (PORTAL, portal_root)):
        folder = server.served_file(name).parent
        extra = (f"\tAlias /ispadmin-stats {stats}\n\t<Directory {stats}>\n\t\tRequire ip 127.0.0.1\n\t</Directory>\n"
                 '\tHeader always set X-Ispadmin "legacy"\n') if name == ADMIN else \
                ("\tSSLProtocol all -SSLv3\n\tErrorLog ${APACHE_LOG_DIR}/portal_ssl_error.log\n")
        blocks.append(
            f"\n<VirtualHost *:{port}>\n"
            f"\tServerName {name}\n"
            f"\tDocumentRoot {docroot}\n"
            f"\t<Directory {docroot}>\n\t\tRequire all granted\n\t</Directory>\n"
            "\tSSLEngine on\n"
            f"\tSSLCertificateFile {folder / f'{name}.cer'}\n"
            f"\tSSLCertificateKeyFile {folder / f'{name}.key'}\n"
            f"\tSSLCertificateChainFile {folder / 'ca.cer'}\n"
            f"{extra}"
            "</VirtualHost>\n")
    with paths.vhost_include.open("a") as include:
        include.write("".join(blocks))


def _write_cron(server: LegacyServer) -> None:
    paths = server.paths
    line = LEGACY_CRON_LINE.format(acme=paths.acme_home, certs=paths.cert_home)
    crontab = paths.crontab
    crontab.parent.mkdir(parents=True, exist_ok=True)
    crontab.write_text("# /etc/crontab: system-wide crontab\nSHELL=/bin/sh\n"
                       "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n\n"
                       "17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n"
                       f"{line}\n")
    server.cron_d_file.parent.mkdir(parents=True, exist_ok=True)
    server.cron_d_file.write_text(f"# renew the ISPadmin certificates\n{line}\n")
    server.root_crontab.parent.mkdir(parents=True, exist_ok=True)
    server.root_crontab.write_text(
        "# m h  dom mon dow   command\n"
        f'34 0 * * * "{paths.acme_home}"/acme.sh --cron --home "{paths.acme_home}" > /dev/null\n')
    server.root_crontab.chmod(0o600)
