"""certbot beside ispa-cert: `certbot --help` and `certbot certificates` (the certbot commands
ispa-cert's `--help` and `status` are measured against).

certbot is not among the machine's packages: the benchmark installs it once with pip into a private
virtual environment, `.cache/certbot-venv/` (never system-wide; pip uses the index this machine's
pip is configured with). `certbot certificates` reads a private configuration directory that holds
the same certificates `status` shows, laid out as certbot keeps them (archive/, live/ links,
renewal/NAME.conf); no CA is contacted.

    from tests.bench_certbot import certbot_executable, certbot_config
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".cache" / "certbot-venv"
CERTBOT = "certbot==5.8.0"  # pinned: the ratios the benchmark prints compare against this version


def certbot_executable() -> Path:
    """certbot in the private virtual environment, installed there on first use."""
    certbot = VENV / "bin" / "certbot"
    if not certbot.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", CERTBOT],
                       check=True)
    return certbot


def certbot_config(directory: Path, certificates: dict[str, tuple[Path, Path, Path]], server: str) -> list[str]:
    """A certbot configuration directory holding `certificates` (name -> cert, key, fullchain files);
    returns the options that point certbot at it."""
    for name, (cert, key, fullchain) in certificates.items():
        archive, live = directory / "archive" / name, directory / "live" / name
        archive.mkdir(parents=True, exist_ok=True)
        live.mkdir(parents=True, exist_ok=True)
        chain = fullchain.read_text().replace(cert.read_text(), "", 1)
        for kind, text in (("cert", cert.read_text()), ("privkey", key.read_text()), ("chain", chain),
                           ("fullchain", fullchain.read_text())):
            (archive / f"{kind}1.pem").write_text(text)
            link = live / f"{kind}.pem"
            link.unlink(missing_ok=True)
            link.symlink_to(f"../../archive/{name}/{kind}1.pem")
        renewal = directory / "renewal"
        renewal.mkdir(exist_ok=True)
        (renewal / f"{name}.conf").write_text(
            f"archive_dir = {archive}\ncert = {live}/cert.pem\nprivkey = {live}/privkey.pem\n"
            f"chain = {live}/chain.pem\nfullchain = {live}/fullchain.pem\n\n[renewalparams]\n"
            f"authenticator = apache\ninstaller = apache\nserver = {server}\n")
    return ["--config-dir", str(directory), "--work-dir", str(directory / "work"), "--logs-dir", str(directory / "logs")]
