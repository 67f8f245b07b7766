"""A program to run: its argument list together with the environment it must run in.

Every argv builder (acme.py, apache/, listeners.py, dns.py) returns a Command, and
runner.run() takes nothing else. So no caller can forget the environment (without
APACHE_CONFDIR, apache2ctl drives the system Apache instead of the one under --root)
and no caller adds its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, init=False)
class Command:
    argv: tuple[str, ...]
    env: Mapping[str, str]  # added to ispa-cert's own environment, never replacing it

    def __init__(self, argv: Iterable[object], env: Mapping[str, str] | None = None) -> None:
        object.__setattr__(self, "argv", tuple(str(part) for part in argv))
        object.__setattr__(self, "env", MappingProxyType(dict(env or {})))
        if not self.argv:
            raise ValueError("a command needs at least the program")

    @property
    def program(self) -> str:
        return self.argv[0]
