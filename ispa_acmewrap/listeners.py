"""Which programs listen on which TCP ports: the `ss` argument list and a parser of its output.

Nothing here runs a process: actions run listening_command() through runner.run().
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .command import Command

_PROGRAM = re.compile(r'\("([^"]*)",pid=\d+')


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket; `programs` is empty when `ss` may not say (not root)."""

    address: str
    port: int
    programs: tuple[str, ...]


def listening_command(ports: Iterable[int]) -> Command:
    """Listening TCP sockets on the given ports, with their programs, without a header."""
    selection: list[str] = []
    for port in ports:
        selection += [*(["or"] if selection else []), "sport", "=", f":{port}"]
    return Command(["ss", "-H", "-l", "-t", "-n", "-p", *selection])


def parse_listeners(output: str) -> list[Listener]:
    """`ss -H -l -t -n -p` lines: State Recv-Q Send-Q Local:Port Peer:Port [users:((...))]."""
    found = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[3].rpartition(":")[2].isdigit():
            continue
        address, _, port = fields[3].rpartition(":")
        found.append(Listener(address, int(port), tuple(dict.fromkeys(_PROGRAM.findall(line)))))
    return found


def programs_on(listeners: Iterable[Listener], port: int) -> list[str]:
    """The programs listening on a port; '' for a socket whose program is not shown."""
    return [program for listener in listeners if listener.port == port for program in (listener.programs or ("",))]
