"""The corpus of real-world Debian Apache trees in tests/fixtures/apache-trees/.

Each case is a directory with `case.toml` (what to enable, what to run, what must
happen) and `files/`, laid over the sandbox root. `@ROOT@`, `@HTTP@` and `@HTTPS@`
in the files become the sandbox root and the sandbox Apache's ports.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.stack import SandboxApache

TREES = Path(__file__).resolve().parent / "fixtures" / "apache-trees"


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    spec: dict

    @property
    def runs(self) -> list[dict]:
        return self.spec.get("run", [])


def cases() -> list[Case]:
    return [Case(d.name, d, tomllib.loads((d / "case.toml").read_text())) for d in sorted(TREES.iterdir())
            if (d / "case.toml").exists()]


def case(name: str) -> Case:
    return next(found for found in cases() if found.name == name)


def substitute(text: str, apache: SandboxApache) -> str:
    return (text.replace("@ROOT@", str(apache.paths.root)).replace("@HTTPS@", str(apache.https_port))
            .replace("@HTTP@", str(apache.http_port)))


class TreeLayer:
    """Lays cases over a sandbox Apache, and puts its base tree back between cases."""

    def __init__(self, apache: SandboxApache) -> None:
        self.apache = apache
        paths = apache.paths
        self.base = paths.root / "stack" / "apache-base"
        self.base.parent.mkdir(parents=True, exist_ok=True)
        if not self.base.exists():
            shutil.copytree(paths.apache_confdir, self.base, symlinks=True)

    def reset(self) -> None:
        paths = self.apache.paths
        shutil.rmtree(paths.apache_confdir)
        shutil.copytree(self.base, paths.apache_confdir, symlinks=True)
        paths.vhost_include.write_text("")
        paths.state_file.unlink(missing_ok=True)

    def apply(self, found: Case) -> None:
        self.reset()
        root = self.apache.paths.root
        confdir = self.apache.paths.apache_confdir
        for source in sorted((found.directory / "files").rglob("*")):
            if source.is_file():
                target = root / source.relative_to(found.directory / "files")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(substitute(source.read_text(), self.apache))
        for module in found.spec.get("mods", []):
            for suffix in (".load", ".conf"):
                if (confdir / "mods-available" / f"{module}{suffix}").exists():
                    link = confdir / "mods-enabled" / f"{module}{suffix}"
                    if not link.exists():
                        link.symlink_to(f"../mods-available/{module}{suffix}")
        for site in found.spec.get("sites", []):
            (confdir / "sites-enabled" / site).symlink_to(f"../sites-available/{site}")
        if "append_main" in found.spec:
            addition = confdir / found.spec["append_main"]
            main = confdir / "apache2.conf"
            main.write_text(main.read_text() + addition.read_text())
            addition.unlink()
        for stem in found.spec.get("old_certificates", []):
            _self_signed(root / stem)


def _self_signed(stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", f"{stem}.key", "-out", f"{stem}.pem", "-days", "30", "-subj", f"/CN={stem.name}-old"],
                   check=True, capture_output=True)


def fingerprint(apache: SandboxApache) -> dict[str, str]:
    """SHA-256 of every file and link of the Apache configuration and the generated include."""
    paths = apache.paths
    found = {}
    for path in sorted([*paths.apache_confdir.rglob("*"), paths.vhost_include]):
        key = str(path.relative_to(paths.root))
        if path.is_symlink():
            found[key] = "link:" + str(path.readlink())
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
