"""Every argv builder returns a Command (argv + environment) and runner.run() takes nothing else,
so no caller can forget the environment (apache2ctl would drive the system Apache instead of the
one under --root) or pass one of its own."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import ispa_acmewrap
from ispa_acmewrap import acme, dns, listeners, runner
from ispa_acmewrap.apache import model, render
from ispa_acmewrap.command import Command
from ispa_acmewrap.paths import Paths

PATHS = Paths.from_root(Path("/srv/sandbox"))
BUILDER_MODULES = (acme, render, model, listeners, dns)
# A sample value for every parameter a builder takes: a new builder with another parameter fails
# test_every_builder_returns_a_command until it is named here.
SAMPLES = {"paths": PATHS, "name": "isp.example.net", "server": "https://127.0.0.1:14000/dir",
           "script": Path("/opt/acme.sh"), "vendor_script": Path("/opt/acme.sh"), "module": "ssl",
           "site": "temp_isp", "ports": [80, 443], "arguments": ("-S",)}


def builders():
    found = {f"{module.__name__}.{name}": function for module in BUILDER_MODULES
             for name, function in vars(module).items()
             if name.endswith("_command") and inspect.isfunction(function) and function.__module__ == module.__name__}
    assert len(found) >= 12, sorted(found)  # the scan itself works
    return found


def call(function):
    positional, keywords = [], {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            positional += SAMPLES[parameter.name]
        elif parameter.default is parameter.empty:
            assert parameter.name in SAMPLES, f"{function.__qualname__}: no sample value for {parameter.name!r}"
            positional.append(SAMPLES[parameter.name])
    return function(*positional, **keywords)


@pytest.mark.parametrize("qualified", sorted(builders()))
def test_every_builder_returns_a_command(qualified):
    function = builders()[qualified]
    assert inspect.signature(function).return_annotation == "Command", f"{qualified} must be annotated -> Command"
    built = call(function)
    assert isinstance(built, Command), f"{qualified} returned {type(built).__name__}, not a Command"
    assert all(isinstance(part, str) for part in built.argv)


@pytest.mark.parametrize("built", [render.ctl_command(PATHS, "configtest"), render.enable_module_command(PATHS, "ssl"),
                                   model.dump_command(PATHS), model.ssl_configtest_command(PATHS),
                                   acme.issue_command(PATHS, "isp.example.net", "letsencrypt")])
def test_apache_and_acme_commands_drive_the_apache_under_the_root(built):
    assert built.env["APACHE_CONFDIR"] == "/srv/sandbox/etc/apache2"


def test_a_command_cannot_be_changed_after_it_is_built():
    built = render.ctl_command(PATHS, "graceful")
    with pytest.raises(TypeError):
        built.env["APACHE_CONFDIR"] = "/etc/apache2"  # type: ignore[index]
    with pytest.raises(AttributeError):
        built.argv = ("apache2ctl", "stop")  # type: ignore[misc]


def test_runner_takes_a_command_only_and_no_environment_of_its_own():
    assert "env" not in inspect.signature(runner.run).parameters
    with pytest.raises(TypeError, match="takes a Command"):
        runner.run(["true"])  # type: ignore[arg-type]


def test_no_caller_hands_runner_an_environment_or_a_bare_argv():
    offenders = []
    for source in Path(ispa_acmewrap.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "runner"):
                continue
            if any(keyword.arg == "env" for keyword in node.keywords) or \
                    (node.args and isinstance(node.args[0], (ast.List, ast.Tuple, ast.ListComp))):
                offenders.append(f"{source.name}:{node.lineno}")
    assert offenders == []
