"""The real test stack on loopback: pebble-challtestsrv (DNS), Pebble (ACME CA) and a
sandboxed Apache instance whose whole config lives under a sandbox root.

Used by the e2e fixtures and by `make demo`. Every process is started here, stopped
here, by its own PID; nothing listens on anything but 127.0.0.1. When a piece cannot
start, StackError says why: tests fail loudly, they never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ispa_acmewrap.paths import Paths

LOOPBACK = "127.0.0.1"
SYSTEM_APACHE_CONFDIR = Path("/etc/apache2")
ISPADMIN_DOCROOT = "/data/support/ispadmin/new/www"
REPO = Path(__file__).resolve().parent.parent
PEBBLE_DIR = REPO / ".cache" / "pebble"  # vendor/fetch-deb unpacks the pinned pebble package here
DAY = 86400
# Pebble's certificate profiles. An order without a profile gets one of them at random, so the
# usual stack has one: Pebble's 5 years (nothing falls due on its own). LETSENCRYPT_PROFILES are
# Let's Encrypt's classic (90 days; 64 days from 2027-02-10), tlsserver (45 days) and shortlived
# (6 days), for the tests that ask for a profile each time.
DEFAULT_PROFILES = {"default": ("5-year certificates", 5 * 365 * DAY)}
LETSENCRYPT_PROFILES = {
    "classic": ("90-day certificates", 90 * DAY),
    "classic2027": ("64-day certificates, as classic from 2027-02-10", 64 * DAY),
    "tlsserver": ("45-day certificates", 45 * DAY),
    "shortlived": ("6-day certificates", 6 * DAY),
}
PORTAL_DOCROOT = "/data/support/ispadmin/portal/www"


class StackError(RuntimeError):
    """A piece of the test stack could not be started; the message says why."""


_HANDED_OUT: set[int] = set()  # ports this process has already chosen for a piece of the stack


def _this_workers(port: int) -> bool:
    """Parallel test workers (pytest-xdist) take disjoint ports: one worker's released port is
    never another's choice, which a worker's server could bind before the first one's Apache did."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return (port >> 1) % workers == index % workers  # bind(0) hands out odd ports only (Linux)


def free_ports(count: int) -> list[int]:
    """`count` different ports, each free for both TCP and UDP on loopback.

    Every chosen socket stays bound until all are chosen, so the kernel cannot hand out one
    port twice; a port this process chose before is never chosen again."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(50 * count):
            if len(ports) == count:
                return ports
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind((LOOPBACK, 0))
            port = tcp.getsockname()[1]
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(udp)
            try:
                udp.bind((LOOPBACK, port))
            except OSError:
                continue
            if port not in _HANDED_OUT and _this_workers(port):
                ports.append(port)
        if len(ports) == count:
            return ports
        raise StackError("no free loopback port found")
    finally:
        for sock in held:
            sock.close()
        _HANDED_OUT.update(ports)


def free_port() -> int:
    """A port free for both TCP and UDP on loopback, never one handed out before."""
    return free_ports(1)[0]


def require_program(path: str, package: str) -> None:
    if shutil.which(path) is None:
        raise StackError(f"{path} is missing: install the Debian package {package} (make install-system)")


def pebble_program(name: str) -> str:
    """pebble or pebble-challtestsrv of the pinned Debian package (vendor/pebble/pin.lock)."""
    program = PEBBLE_DIR / name
    if not os.access(program, os.X_OK):
        raise StackError(f"{program} is missing: run `make install` (it fetches the pinned pebble package "
                         "with vendor/fetch-deb vendor/pebble/pin.lock .cache/pebble)")
    return str(program)


def wait_for(check, what: str, timeout: float = 15.0, process: subprocess.Popen | None = None, log: Path | None = None):
    end = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise StackError(f"{what} exited with {process.returncode} while starting:\n{detail}")
        try:
            result = check()
            if result is not False:
                return result
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last = error
        time.sleep(0.1)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise StackError(f"{what} did not come up within {timeout:.0f} s ({last})\n{detail}")


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """Stop one process we started, by PID: SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                waited, _ = os.waitpid(pid, os.WNOHANG)
                if waited == pid:
                    return
            except ChildProcessError:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
            time.sleep(0.05)


def make_sandbox(prefix: str = "ispa-sandbox-") -> Path:
    """A sandbox root Apache's user can traverse (pytest's own tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    return root


# --- a small CA for Pebble's own HTTPS API -----------------------------------

@dataclass
class TestCA:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "localhost.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "localhost.key"

    def create(self) -> "TestCA":
        require_program("openssl", "openssl")
        self.directory.mkdir(parents=True, exist_ok=True)
        ca_key = self.directory / "ca.key"
        ext = self.directory / "san.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        csr = self.directory / "localhost.csr"
        for argv in (
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", ca_key, "-out", self.ca_cert, "-days", "7", "-subj", "/CN=ispa-cert test API CA"],
            ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", self.server_key, "-out", csr, "-subj", "/CN=localhost"],
            ["openssl", "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", ca_key, "-CAcreateserial",
             "-out", self.server_cert, "-days", "7", "-extfile", ext],
        ):
            subprocess.run([str(a) for a in argv], check=True, capture_output=True)
        return self


# --- pebble-challtestsrv: the DNS server ----------------------------------------

@dataclass
class ChallTestSrv:
    directory: Path
    dns_port: int = 0
    management_port: int = 0
    process: subprocess.Popen | None = None

    @property
    def dns_server(self) -> str:
        return f"{LOOPBACK}:{self.dns_port}"

    def start(self) -> "ChallTestSrv":
        program = pebble_program("pebble-challtestsrv")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dns_port = free_port()
        self.management_port = free_port()
        log = self.directory / "challtestsrv.log"
        self.process = subprocess.Popen(
            [program, "-defaultIPv4", LOOPBACK, "-defaultIPv6", "",
             "-dnsserver", self.dns_server, "-management", f"{LOOPBACK}:{self.management_port}",
             "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_for(lambda: self._post("clear-a", {"host": "ready.invalid."}) or True,
                 "pebble-challtestsrv", process=self.process, log=log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process = None

    def _post(self, endpoint: str, body: dict) -> None:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.management_port}/{endpoint}", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    @staticmethod
    def _fqdn(host: str) -> str:
        return host if host.endswith(".") else host + "."

    def set_a(self, host: str, addresses: list[str]) -> None:
        self._post("add-a", {"host": self._fqdn(host), "addresses": addresses})

    def clear_a(self, host: str) -> None:
        self._post("clear-a", {"host": self._fqdn(host)})

    def set_aaaa(self, host: str, addresses: list[str]) -> None:
        self._post("add-aaaa", {"host": self._fqdn(host), "addresses": addresses})

    def clear_aaaa(self, host: str) -> None:
        self._post("clear-aaaa", {"host": self._fqdn(host)})

    def set_caa(self, host: str, policies: list[dict]) -> None:
        self._post("add-caa", {"host": self._fqdn(host), "policies": policies})

    def clear_caa(self, host: str) -> None:
        self._post("clear-caa", {"host": self._fqdn(host)})

    def set_cname(self, host: str, target: str) -> None:
        self._post("set-cname", {"host": self._fqdn(host), "target": self._fqdn(target)})

    def clear_cname(self, host: str) -> None:
        self._post("clear-cname", {"host": self._fqdn(host)})

    def set_servfail(self, host: str) -> None:
        self._post("set-servfail", {"host": self._fqdn(host)})

    def clear_servfail(self, host: str) -> None:
        self._post("clear-servfail", {"host": self._fqdn(host)})


# --- Pebble: the ACME CA ----------------------------------------------------------

@dataclass
class Pebble:
    directory: Path
    http_port: int
    dns_server: str
    api_ca: TestCA
    port: int = 0
    management_port: int = 0
    process: subprocess.Popen | None = None
    profiles: dict[str, tuple[str, int]] = field(default_factory=lambda: dict(DEFAULT_PROFILES))

    @property
    def directory_url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/dir"

    @property
    def log(self) -> Path:
        return self.directory / "pebble.log"

    def start(self) -> "Pebble":
        program = pebble_program("pebble")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.management_port = free_port()
        config = self.directory / "pebble-config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"{LOOPBACK}:{self.port}",
            "managementListenAddress": f"{LOOPBACK}:{self.management_port}",
            "certificate": str(self.api_ca.server_cert),
            "privateKey": str(self.api_ca.server_key),
            "httpPort": self.http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "profiles": {name: {"description": description, "validityPeriod": seconds}
                         for name, (description, seconds) in self.profiles.items()},
        }}, indent=2))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
        self.process = subprocess.Popen(
            [program, "-config", str(config), "-dnsserver", self.dns_server, "-strict"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        wait_for(lambda: self._get(self.directory_url), "Pebble", process=self.process, log=self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process = None

    def _get(self, url: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.api_ca.ca_cert))
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.read()

    def issuing_root(self) -> str:
        """The root Pebble signs with; it changes at every start."""
        return self._get(f"https://{LOOPBACK}:{self.management_port}/roots/0").decode()

    def set_renewal_info(self, certificate_pem: str, start: str, end: str, explanation_url: str | None = None) -> None:
        """Move a certificate's ARI window (management API), e.g. into the past as in an incident."""
        window = {"suggestedWindow": {"start": start, "end": end},
                  **({"explanationURL": explanation_url} if explanation_url else {})}
        body = json.dumps({"Certificate": certificate_pem, "ARIResponse": json.dumps(window)}).encode()
        context = ssl.create_default_context(cafile=str(self.api_ca.ca_cert))
        request = urllib.request.Request(f"https://{LOOPBACK}:{self.management_port}/set-renewal-info/",
                                         data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            response.read()

    def replacements(self) -> list[str]:
        """Pebble's log lines saying an order named its predecessor (ARI `replaces`)."""
        return [line for line in self.log.read_text(errors="replace").splitlines() if "is a replacement of" in line]

    def validation_attempts(self, name: str) -> int:
        """How many HTTP-01 validations Pebble attempted for a name (from its log)."""
        text = self.log.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if "Attempting to validate" in line and name in line)


# --- Apache: its own instance, config under the sandbox root ----------------------

@dataclass
class SandboxApache:
    paths: Paths
    http_port: int = 0
    https_port: int = 0
    admin_name: str = "admin.ispa.test"
    portal_name: str = "portal.ispa.test"

    @property
    def env(self) -> dict[str, str]:
        return {"APACHE_CONFDIR": str(self.paths.apache_confdir)}

    @property
    def run_dir(self) -> Path:
        return self.paths.root / "run" / "apache2"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "apache2.pid"

    @property
    def error_log(self) -> Path:
        return self.paths.root / "var" / "log" / "apache2" / "error.log"

    def create(self) -> "SandboxApache":
        """Copy Debian's Apache tree and make it an ISPadmin server on loopback ports."""
        require_program("apache2ctl", "apache2")
        if not SYSTEM_APACHE_CONFDIR.is_dir():
            raise StackError(f"{SYSTEM_APACHE_CONFDIR} is missing: install the Debian package apache2")
        self.http_port = self.http_port or free_port()
        self.https_port = self.https_port or free_port()
        confdir = self.paths.apache_confdir
        confdir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(SYSTEM_APACHE_CONFDIR, confdir, symlinks=True)
        for enabled in ("sites-enabled", "mods-enabled", "conf-enabled"):
            self._rebase_links(confdir / enabled)
        for site in (confdir / "sites-enabled").iterdir():
            site.unlink()
        for mod in ("ssl.load", "ssl.conf", "socache_shmcb.load"):
            (confdir / "mods-enabled" / mod).unlink(missing_ok=True)
        log_dir = self.error_log.parent
        for directory in (self.run_dir, log_dir, self.paths.root / "run" / "lock" / "apache2"):
            directory.mkdir(parents=True, exist_ok=True)
        (confdir / "envvars").write_text(
            "unset HOME\n"
            "export APACHE_RUN_USER=www-data\nexport APACHE_RUN_GROUP=www-data\n"
            f"export APACHE_PID_FILE={self.pid_file}\nexport APACHE_RUN_DIR={self.run_dir}\n"
            f"export APACHE_LOCK_DIR={self.paths.root}/run/lock/apache2\nexport APACHE_LOG_DIR={log_dir}\n"
            "export LANG=C\nexport LANG\n"
        )
        (confdir / "ports.conf").write_text(
            f"Listen {LOOPBACK}:{self.http_port}\n\n"
            f"<IfModule ssl_module>\n\tListen {LOOPBACK}:{self.https_port}\n</IfModule>\n"
        )
        main = confdir / "apache2.conf"
        main.write_text(main.read_text().replace("ErrorLog ${APACHE_LOG_DIR}/error.log",
                                                 "ErrorLog ${APACHE_LOG_DIR}/error.log\nServerName localhost"))
        self._write_ispadmin_site()
        return self

    def _rebase_links(self, directory: Path) -> None:
        """Debian's enabled links are relative (../mods-available/x); keep them so."""
        for link in directory.iterdir():
            if link.is_symlink():
                target = os.readlink(link)
                if target.startswith(str(SYSTEM_APACHE_CONFDIR)):
                    link.unlink()
                    link.symlink_to(os.path.relpath(self.paths.apache_confdir / target[len(str(SYSTEM_APACHE_CONFDIR)) + 1:], directory))

    def docroot(self, relative: str) -> Path:
        return self.paths.root / relative.lstrip("/")

    def _write_ispadmin_site(self) -> None:
        """The guide's ispadmin.conf with its include, and a port-80 vhost for the portal."""
        for name, docroot in ((self.admin_name, ISPADMIN_DOCROOT), (self.portal_name, PORTAL_DOCROOT)):
            directory = self.docroot(docroot)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "index.html").write_text(f"<h1>{name}</h1>\n")
        admin_root = self.docroot(ISPADMIN_DOCROOT)
        portal_root = self.docroot(PORTAL_DOCROOT)
        include = self.paths.vhost_include
        include.parent.mkdir(parents=True, exist_ok=True)
        include.write_text("")  # as ISPadmin ships it before any certificate
        self.paths.ispadmin_site.write_text(
            "options FollowSymLinks\n\n"
            f"<VirtualHost *:{self.http_port}>\n"
            " Protocols h2 h2c http/1.1\n"
            f" ServerName {self.admin_name}\n"
            f' DocumentRoot "{admin_root}/"\n'
            " AddDefaultCharset UTF-8\n"
            f" <Directory {admin_root}/>\n"
            " Options +ExecCGI\n Options FollowSymLinks MultiViews\n AllowOverride All\n Require all granted\n"
            " </Directory>\n"
            " CustomLog ${APACHE_LOG_DIR}/access_support_ispadmin.log combined\n"
            "</VirtualHost>\n\n"
            f"<VirtualHost *:{self.http_port}>\n"
            f" ServerName {self.portal_name}\n"
            f" DocumentRoot {portal_root}\n"
            f" <Directory {portal_root}>\n  Require all granted\n </Directory>\n"
            "</VirtualHost>\n\n"
            f"include {include}\n"
        )
        (self.paths.sites_enabled / "ispadmin.conf").symlink_to("../sites-available/ispadmin.conf")

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["apache2ctl", *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, check=check)

    def start(self) -> "SandboxApache":
        result = self.ctl("start", check=False)
        if result.returncode != 0:
            raise StackError(f"sandbox Apache did not start:\n{result.stdout}{result.stderr}")
        wait_for(lambda: self.pid() is not None and _port_open(self.http_port), "sandbox Apache", log=self.error_log)
        return self

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid)

    def tool_env(self) -> dict[str, str]:
        """The documented test settings that point ispa-cert at this instance's ports."""
        return {"ISPA_HTTP_PORT": str(self.http_port), "ISPA_HTTPS_PORT": str(self.https_port)}


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((LOOPBACK, port)) == 0


# --- the whole stack --------------------------------------------------------------

@dataclass
class Stack:
    root: Path
    dns: ChallTestSrv
    pebble: Pebble
    apache: SandboxApache
    paths: Paths
    pebble_root_file: Path
    extra: dict = field(default_factory=dict)

    @classmethod
    def start(cls, root: Path | None = None, profiles: dict[str, tuple[str, int]] | None = None) -> "Stack":
        """profiles: Pebble's certificate profiles, name -> (description, seconds); default DEFAULT_PROFILES."""
        root = root or make_sandbox()
        work = root / "stack"
        paths = Paths.from_root(root)
        started: list = []
        try:
            api_ca = TestCA(work / "api-ca").create()
            dns = ChallTestSrv(work / "dns").start()
            started.append(dns)
            apache = SandboxApache(paths).create()
            apache.start()
            started.append(apache)
            pebble = Pebble(work / "pebble", apache.http_port, dns.dns_server, api_ca,
                            profiles=dict(profiles or DEFAULT_PROFILES)).start()
            started.append(pebble)
            pebble_root_file = work / "pebble-root.pem"
            pebble_root_file.write_text(pebble.issuing_root())
        except BaseException:
            for piece in reversed(started):
                piece.stop()
            raise
        return cls(root, dns, pebble, apache, paths, pebble_root_file)

    def stop(self) -> None:
        for piece in (self.pebble, self.apache, self.dns):
            piece.stop()

    def https_get(self, name: str) -> tuple[bytes, bytes]:
        """GET / for a name through the sandbox Apache over HTTPS, verified against Pebble's
        issuing root. Returns the served certificate (DER) and the raw response."""
        context = ssl.create_default_context(cafile=str(self.pebble_root_file))
        with socket.create_connection((LOOPBACK, self.apache.https_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
                response = b""
                while chunk := tls.recv(65536):
                    response += chunk
                return tls.getpeercert(binary_form=True), response

    def tool_env(self) -> dict[str, str]:
        """Environment that aims ispa-cert at this stack."""
        return {
            "ISPA_ROOT": str(self.root),
            "ISPA_ACME_SERVER": self.pebble.directory_url,
            "ISPA_CA_BUNDLE": str(self.pebble.api_ca.ca_cert),
            "ISPA_DNS_SERVER": self.dns.dns_server,
            **self.apache.tool_env(),
        }
