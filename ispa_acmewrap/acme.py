"""acme.sh: argv builders, the environment it needs, and what its exit codes and
output mean. Builders only build: each returns a Command carrying acme.sh's environment
(environment() below), which the actions run through runner.run().

acme.sh is always told its CA (its own default is not Let's Encrypt), its homes
(created first: acme.sh 3.1.1 fails obscurely when they are missing), the
challenge directory (ACME_DIR, otherwise /home/.acme) and the Apache main config
it edits in --apache mode (APACHE_HTTPD_CONF, otherwise the compiled-in path).

ispa-cert issues in webroot mode (Paths.acme_webroot, whose .well-known/acme-challenge
leads to the challenge directory the generated include's Alias serves): acme.sh only
writes its token, with no Apache edit and no reload, and remembers the webroot
(Le_Webroot) for every later --renew and the guide's --renewAll. Certificates acme.sh
issued in --apache mode before keep renewing that way until they are issued again.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .command import Command
from .i18n import N_, _
from .paths import Paths

# Never two acme.sh runs at once on one home: every run saves its --log/--log-level (and more) into
# account.conf by truncating and rewriting the file, so a second run reading it meanwhile writes back
# a copy without its lines (CA_BUNDLE, ACCOUNT_EMAIL...). runner.run_side_by_side refuses acme.sh.

# acme.sh exit codes with a meaning other than "failed".
EXIT_SUCCESS = 0
EXIT_SKIPPED = 2  # --renew / --issue: the certificate is not due yet, nothing done

KEY_SUFFIX = "_ecc"  # acme.sh's default key is ECDSA P-256: domain dirs are NAME_ecc/; RSA ones are NAME/
KEY_LENGTHS = {"ec": "ec-256", "rsa": "2048"}  # --key-type → acme.sh --keylength

_RATE_LIMIT = re.compile(r"rateLimited|too many failed authorizations|too many certificates", re.IGNORECASE)
_VALIDATION = re.compile(r"Verify error|Invalid status|urn:ietf:params:acme:error:(connection|unauthorized|dns|incorrectResponse)",
                         re.IGNORECASE)
_PROBLEM = re.compile(r'"type"\s*:\s*"urn:ietf:params:acme:error:(?P<type>\w+)"\s*,\s*'
                      r'"detail"\s*:\s*"(?P<detail>(?:[^"\\]|\\.)*)"')
_CLIENT_SIDE = {"malformed", "badNonce", "orderNotReady"}  # acme.sh's own follow-up requests, not the cause
_ORDER_REFUSED = re.compile(r"Error creating new order")  # the CA refused the order itself: nothing was validated


# curl's exit codes (acme.sh logs them as "error code: N") and what they mean for reaching the CA.
_CURL_CAUSES = {
    5: N_("proxy not found (DNS)"), 6: N_("its name does not resolve (DNS)"), 7: N_("connection refused"),
    28: N_("timeout"), 35: N_("TLS handshake failed"), 51: N_("TLS: its certificate does not match its name"),
    52: N_("it closed the connection without an answer"), 56: N_("the connection broke off"),
    58: N_("TLS: client certificate problem"), 60: N_("TLS: its certificate is not trusted"),
    77: N_("TLS: the CA certificates of this server cannot be read"),
}
_CURL_ERROR = re.compile(r"error code: (\d+)")
# acme.sh's log when the CA's answer is no ACME JSON: no newAccount in its directory, or no field it needs.
_NOT_ACME = re.compile(r"Cannot init API|\] ACME_NEW_ACCOUNT\s*$|\w+ not found\.", re.MULTILINE)


@dataclass(frozen=True)
class HeldCertificate:
    """A certificate acme.sh keeps under the certificate home: RSA in NAME/, ECC in NAME_ecc/.

    acme.sh 2.x made RSA keys by default (NAME/), 3.x makes ECDSA P-256 (NAME_ecc/); every
    acme.sh call about it must name the same layout (`--ecc` only for NAME_ecc/).
    """

    name: str
    ecc: bool
    directory: Path

    @property
    def key_type(self) -> str:
        return "ec" if self.ecc else "rsa"

    @property
    def certificate_file(self) -> Path:
        return self.directory / f"{self.name}.cer"

    @property
    def conf_file(self) -> Path:
        return self.directory / f"{self.name}.conf"


@dataclass(frozen=True)
class AcmeFailure:
    """What an unsuccessful acme.sh run means for the admin.

    Only `validation_failed` counts against the CA's 5 failed validations per hostname and
    hour; a CA that cannot be reached or answers with an error has validated nothing.
    """

    rate_limited: bool
    validation_failed: bool
    detail: str
    ca_problem: str | None = None  # the CA could not be reached or answered with an error
    order_refused: bool = False  # the CA refused the new order itself (before any validation)


def environment(paths: Paths) -> dict[str, str]:
    """What every acme.sh command of ours runs with (its builders attach it)."""
    return {
        "ACME_DIR": str(paths.challenge_dir),
        "APACHE_HTTPD_CONF": str(paths.apache_main_config),
        "APACHE_CONFDIR": str(paths.apache_confdir),
        "LE_WORKING_DIR": str(paths.acme_home),
        "LE_CONFIG_HOME": str(paths.acme_home),
    }


def _homes(paths: Paths) -> list[str]:
    return ["--home", str(paths.acme_home), "--config-home", str(paths.acme_home),
            "--cert-home", str(paths.cert_home)]


def _logging(paths: Paths) -> list[str]:
    return ["--log", str(paths.acme_log), "--log-level", "2"]


def _ca(server: str, ca_bundle: Path | None) -> list[str]:
    return ["--server", server, *(["--ca-bundle", str(ca_bundle)] if ca_bundle else [])]


def install_command(paths: Paths, vendor_script: Path, email: str | None = None) -> Command:
    """Install acme.sh from vendor/ into the acme home: no network, no cron, no profile edits."""
    return Command([vendor_script, "--install", *_homes(paths), "--nocron", "--noprofile",
                    *(["--accountemail", email] if email else [])], environment(paths))


def version_command(script: Path) -> Command:
    """Any acme.sh script's version; it reads no home, so it needs no environment."""
    return Command([script, "--version"])


def issue_command(paths: Paths, name: str, server: str, ca_bundle: Path | None = None,
                  force: bool = False, profile: str | None = None, key_type: str | None = None) -> Command:
    """--cert-profile asks the CA for a profile; acme.sh keeps it (Le_Certificate_Profile) for --renew.
    key_type "rsa" or "ec" (acme.sh's default, ECDSA P-256) chooses the key and so the layout."""
    length = ["--keylength", KEY_LENGTHS[key_type]] if key_type else []
    return Command([paths.acme_script, "--issue", "--webroot", paths.acme_webroot, "-d", name, *length,
                    *_homes(paths),
                    *_ca(server, ca_bundle), *_logging(paths), *(["--force"] if force else []),
                    *(["--cert-profile", profile] if profile else [])], environment(paths))


RELOADS_ITSELF = "ISPA_CERT_RELOADS_ITSELF"  # in an acme.sh run's environment: its reload command leaves Apache


def reload_line(paths: Paths) -> str:
    """The shell line acme.sh runs after installing or renewing a certificate: a graceful reload of a
    running Apache only. `apache2ctl graceful` alone starts an Apache the admin stopped; the PID file
    is the one Debian's envvars names (Apache's PidFile). acme.sh keeps the line for its own renewals;
    in a run whose environment sets RELOADS_ITSELF, ispa-cert reloads Apache afterwards itself (after a
    configtest, and checks what Apache serves), so the line only says so."""
    confdir = shlex.quote(str(paths.apache_confdir))
    return (f'(if [ -n "${RELOADS_ITSELF}" ]; then echo "Apache is reloaded by ispa-cert after this step"; '
            f'else APACHE_CONFDIR={confdir}; export APACHE_CONFDIR; . "$APACHE_CONFDIR/envvars"; '
            'if kill -0 "$(cat "$APACHE_PID_FILE" 2>/dev/null)" 2>/dev/null; then apache2ctl graceful; '
            'else echo "Apache is not running: not reloaded, not started"; fi; fi)')


def install_cert_command(paths: Paths, name: str, ecc: bool = True, reload_now: bool = True) -> Command:
    """acme.sh --install-cert into live/NAME, with reload_line as the reload of every later renewal.
    reload_now=False: this run does not reload Apache (the caller reloads it once, after all names)."""
    live = paths.live(name)
    return Command([paths.acme_script, "--install-cert", "-d", name, *(["--ecc"] if ecc else []), *_homes(paths),
                    "--cert-file", live.cert, "--key-file", live.key,
                    "--fullchain-file", live.fullchain, "--reloadcmd", reload_line(paths), *_logging(paths)],
                   {**environment(paths), **({} if reload_now else {RELOADS_ITSELF: "1"})})


def renew_command(paths: Paths, name: str, force: bool = False, ecc: bool = True, replaces: bool = True) -> Command:
    """acme.sh --renew; with replaces=False (NO_ARI=1) its order does not name the certificate it
    replaces (RFC 9773), for a CA that refuses the order because of that name."""
    return Command([paths.acme_script, "--renew", "-d", name, *(["--ecc"] if ecc else []), *_homes(paths),
                    *_logging(paths), *(["--force"] if force else [])],
                   {**environment(paths), **({} if replaces else {"NO_ARI": "1"})})


def upgrade_command(paths: Paths) -> Command:
    return Command([paths.acme_script, "--upgrade", *_homes(paths), *_logging(paths)], environment(paths))


def parse_version(output: str) -> str | None:
    """acme.sh --version prints its URL, then `vX.Y.Z`."""
    for line in output.splitlines():
        match = re.fullmatch(r"v?(\d+(?:\.\d+)+\S*)", line.strip())
        if match:
            return match.group(1)
    return None


def held_certificates(paths: Paths) -> list[HeldCertificate]:
    """Every certificate acme.sh holds under the certificate home, in both layouts (what --renewAll renews)."""
    if not paths.cert_home.is_dir():
        return []
    held = [_held(entry) for entry in sorted(paths.cert_home.iterdir()) if entry.is_dir()]
    return [certificate for certificate in held if certificate is not None]


def _held(directory: Path) -> HeldCertificate | None:
    ecc = directory.name.endswith(KEY_SUFFIX)
    name = directory.name[: -len(KEY_SUFFIX)] if ecc else directory.name
    return HeldCertificate(name, ecc, directory) if (directory / f"{name}.conf").is_file() else None


def held_certificate(paths: Paths, name: str) -> HeldCertificate | None:
    """acme.sh's certificate of a name; with both layouts present, the one renewed last."""
    candidates = [held for held in held_certificates(paths) if held.name == name]
    return max(candidates, key=_issued_at, default=None)


def _issued_at(held: HeldCertificate) -> float:
    return held.certificate_file.stat().st_mtime if held.certificate_file.exists() else 0.0


def held_for_file(paths: Paths, certificate_file: Path) -> HeldCertificate | None:
    """Which acme.sh certificate a file Apache points at belongs to: acme.sh's own NAME.cer/fullchain.cer,
    or a copy --install-cert keeps up to date (the domain conf's Le_Real*Path)."""
    for held in held_certificates(paths):
        if certificate_file.parent == held.directory:
            return held
        conf = _read_conf(held.conf_file)
        if str(certificate_file) in (conf.get("Le_RealCertPath"), conf.get("Le_RealFullChainPath")):
            return held
    return None


def domain_dir(paths: Paths, name: str) -> Path:
    """The directory of a name's certificate: the layout acme.sh holds, else the ECC one a new issue makes."""
    held = held_certificate(paths, name)
    return held.directory if held else paths.cert_home / f"{name}{KEY_SUFFIX}"


def issued_names(paths: Paths) -> list[str]:
    """Names acme.sh holds a certificate for under the certificate home (either layout)."""
    return sorted({held.name for held in held_certificates(paths)})


def key_type_to_issue(paths: Paths, name: str, asked: str | None) -> str | None:
    """The key a new certificate gets: as asked, else the one the name has (RSA stays RSA), else acme.sh's default."""
    if asked:
        return asked
    held = held_certificate(paths, name)
    return "rsa" if held is not None and not held.ecc else None


def with_setting(conf_text: str, key: str, value: str) -> str:
    """acme.sh's account.conf with KEY='value' set (the line replaced, or appended), every other line kept."""
    line = f"{key}='{value}'"
    lines = conf_text.splitlines()
    replaced = [line if entry.partition("=")[0].strip() == key else entry for entry in lines]
    if line not in replaced:
        replaced.append(line)
    return "\n".join(replaced) + "\n"


def read_domain_conf(paths: Paths, name: str) -> dict[str, str]:
    """acme.sh's per-domain settings (Le_API, Le_Webroot, ...)."""
    conf = domain_dir(paths, name) / f"{name}.conf"
    return _read_conf(conf)


def read_account_conf(paths: Paths) -> dict[str, str]:
    return _read_conf(paths.acme_account_conf)


def _read_conf(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            values[key] = value.strip().strip("'\"")
    return values


def explain_failure(output: str, log_text: str = "", last_header: str = "") -> AcmeFailure:
    """Classify a failed issue/renew from acme.sh's output and (fuller) log."""
    text = output + "\n" + log_text
    problems = [(match["type"], match["detail"].replace('\\"', '"')) for match in _PROBLEM.finditer(text)]
    causes = [detail for kind, detail in problems if kind not in _CLIENT_SIDE and len(detail) > 8]
    detail = causes[0] if causes else _last_error_line(output)
    order_refused = bool(_ORDER_REFUSED.search(output))
    validation_failed = not order_refused and bool(_VALIDATION.search(output))
    unreachable = None if problems or validation_failed else ca_unreachable(log_text or output)
    answered = None if problems or validation_failed or unreachable else ca_error_status(log_text, last_header)
    return AcmeFailure(
        rate_limited=bool(_RATE_LIMIT.search(text)),
        validation_failed=validation_failed,
        detail=detail,
        ca_problem=unreachable or answered,
        order_refused=order_refused,
    )


def ca_unreachable(log_text: str) -> str | None:
    """Why acme.sh could not talk to the CA at all (from curl's exit code in its log), or None."""
    codes = [int(code) for code in _CURL_ERROR.findall(log_text)]
    if not codes:
        return None
    code = codes[-1]
    return _(_CURL_CAUSES[code]) if code in _CURL_CAUSES else _("curl error {code}").format(code=code)


def ca_error_status(log_text: str, last_header: str = "") -> str | None:
    """The CA answered, but not as an ACME server: an HTTP error status, or no ACME JSON at all.

    `last_header` is the header of the last response acme.sh received (its http.header file)."""
    if not _NOT_ACME.search(log_text):
        return None
    status = re.match(r"HTTP/[\d.]+ (\d{3})", last_header)
    if status and int(status.group(1)) >= 400:
        return f"HTTP {status.group(1)}"
    return _("its answer is not ACME JSON")


def _last_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    line = errors[-1] if errors else (output.strip().splitlines() or [_("no output")])[-1]
    return re.sub(r"^\[[^\]]*\]\s*", "", line)


def certificate_file(paths: Paths, name: str) -> Path:
    """The certificate acme.sh keeps for a name (before --install-cert copies it)."""
    return domain_dir(paths, name) / f"{name}.cer"


def account_dirs(paths: Paths, directory_url: str) -> tuple[Path, Path]:
    """Where acme.sh keeps a CA's account: ca/HOST/PATH, and the older ca/HOST (as acme.sh derives them)."""
    after_scheme = directory_url.partition(":")[2]  # //host:port/path
    host = (re.sub(r"/+", "/", after_scheme.split(":")[0]).split("/") + ["", ""])[1]
    path = "/".join(re.sub(r"/+", "/", after_scheme).split("/")[2:])
    base = paths.acme_ca_dir / host
    return base / path, base


def account_registered(paths: Paths, directory_url: str) -> bool:
    """An account key and its registration URL (ca.conf ACCOUNT_URL) for the CA, in either layout."""
    return any((directory / "account.key").exists() and _read_conf(directory / "ca.conf").get("ACCOUNT_URL")
               for directory in account_dirs(paths, directory_url))


# What acme.sh's output says it is doing (3.1.1 and 3.1.5 word it differently), for the one
# progress line per name: the order is placed, the CA validates, the certificate is signed.
_PROGRESS_STEPS = (
    (re.compile(r"\] (Verifying: |Pending\b|Processing\.)"), N_("validating")),
    (re.compile(r"\] (Verification finished|Verify finished|Let'?s finalize|Downloading cert)"), N_("signing")),
)


def progress_step(line: str) -> str | None:
    """The step an acme.sh output line shows it has reached ("validating", "signing"), else None."""
    for pattern, step in _PROGRESS_STEPS:
        if pattern.search(line):
            return step
    return None
