"""Compiles the message catalogues (locale/*/LC_MESSAGES/ispa-cert.po → .mo) when the package is built.

The compiled .mo files are not in git: `pip install .` (make install) writes them into the wheel,
`pip install -e .` next to their .po files (make dev also recompiles them when a .po changes).
Babel is a build requirement (pyproject.toml), not a run-time one.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PACKAGE = "ispa_acmewrap"


class build_py_with_catalogues(build_py):  # noqa: N801 - setuptools' naming
    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        target = Path(PACKAGE) if self.editable_mode else Path(self.build_lib, PACKAGE)
        for source in sorted(Path(PACKAGE, "locale").glob("*/LC_MESSAGES/*.po")):
            compiled = target / source.relative_to(PACKAGE).with_suffix(".mo")
            compiled.parent.mkdir(parents=True, exist_ok=True)
            with source.open("rb") as po_file:
                catalogue = read_po(po_file, locale=source.parts[-3])
            with compiled.open("wb") as mo_file:
                write_mo(mo_file, catalogue)


setup(cmdclass={"build_py": build_py_with_catalogues})
