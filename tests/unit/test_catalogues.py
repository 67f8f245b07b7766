"""The message catalogues against the code: every message the code marks is in the Czech catalogue,
translated (not fuzzy, every plural form) with the same placeholders; the English catalogue lists
them all; nothing stale stays behind; and no message meant for the administrator is left unmarked.

When a test here fails after a message changed: `make messages`, translate what is new or fuzzy in
ispa_acmewrap/locale/cs/LC_MESSAGES/ispa-cert.po, `make catalogues`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parents[2] / "ispa_acmewrap"
LOCALE = PACKAGE / "locale"
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sd]|%[sd]")
CZECH_PLURAL_FORMS = "nplurals=3; plural=((n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2);"


def extracted() -> dict[str, tuple[str, ...]]:
    """msgid → every form (singular, plural) of the messages marked in the code, as Babel extracts them."""
    found = {}
    for _filename, _line, message, _comments, _context in extract_from_dir(str(PACKAGE)):
        forms = message if isinstance(message, tuple) else (message,)
        found[forms[0]] = forms
    return found


def catalogue(language: str):
    with (LOCALE / language / "LC_MESSAGES" / "ispa-cert.po").open("rb") as po_file:
        return read_po(po_file, locale=language)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def code_messages():
    messages = extracted()
    assert any(msgid.startswith("Language of the messages") for msgid in messages), "is the extraction broken?"
    return messages


def test_every_message_has_a_czech_translation(code_messages):
    czech = catalogue("cs")
    problems = []
    for msgid, forms in code_messages.items():
        entry = czech.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
            continue
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if len(forms) > 1 and len(translations) != 3:
            problems.append(f"needs the three Czech plural forms: {msgid!r}")
        if not all(translations):
            problems.append(f"not translated: {msgid!r}")
            continue
        for translation in translations:
            if placeholders(translation) != placeholders(forms[-1]) and placeholders(translation) != placeholders(forms[0]):
                problems.append(f"placeholders differ: {msgid!r} → {translation!r}")
    assert not problems, "\n".join(problems)


def test_the_czech_catalogue_has_czech_plural_forms():
    assert catalogue("cs").plural_forms == CZECH_PLURAL_FORMS


def test_the_english_catalogue_lists_every_message(code_messages):
    english = catalogue("en")
    missing = [msgid for msgid in code_messages if english.get(msgid) is None]
    assert not missing, missing


@pytest.mark.parametrize("language", ["cs", "en"])
def test_no_stale_messages_stay_in_the_catalogue(code_messages, language):
    stale = [message.id for message in catalogue(language) if message.id and
             (message.id[0] if isinstance(message.id, tuple) else message.id) not in code_messages]
    assert not stale, f"no longer in the code (make messages drops them): {stale}"


# --- messages left unmarked -----------------------------------------------------------------------

ERROR_CLASSES = {"IspaError", "OperationFailed", "BadInput", "PreconditionMissing", "RateLimited", "Locked",
                 "RollbackFailed", "TimedOut", "CommandFailed", "ApacheRefusal", "ConfigUnreadable", "CaUnavailable"}
CONSOLE_METHODS = {"say", "step", "warn", "confirm", "ask"}
MESSAGE_KEYWORDS = {"hint", "help", "epilog", "fix"}
MARKERS = {"_", "ngettext", "N_"}
# A command line is not translated: `ispa-cert renew --force`, `apt-get install apache2`.
COMMAND = re.compile(r"^(ispa-cert|apt-get|systemctl|apache2ctl|a2enmod|a2dissite|make|journalctl)( [-\w./:=*\"]+)*$")
# A deliberate exception says so on its line (e.g. a command line built with an f-string).
PRAGMA = "# i18n: not a message"
# health.Finding(check, severity, message, fix, subject): the message and the fix are the admin's;
# terminal.labelled(label, message), progress's finish(outcome) and announce(console, message) too.
FINDING_ARGUMENTS = {"Finding": (2, 3), "labelled": (1,), "finish": (0,), "announce": (1,)}
# Modules whose messages are not yet in the catalogue (to be emptied).
NOT_YET: set[str] = set()


def _call_name(node: ast.Call) -> str:
    function = node.func
    return function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else ""


def _bare_text(node: ast.AST) -> list[ast.AST]:
    """String literals with words in them that make up a message, outside _(), ngettext() and N_(): the
    expression itself, the parts of an operator or a conditional, the text a `.format()` fills in.
    Arguments of other calls are values (keys, names, paths), not text."""
    if isinstance(node, ast.Call):
        if _call_name(node) in MARKERS:
            return []
        if _call_name(node) == "format" and isinstance(node.func, ast.Attribute):
            return _bare_text(node.func.value)
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node] if re.search(r"[A-Za-z]{2}", node.value) and not COMMAND.match(node.value) else []
    if isinstance(node, ast.JoinedStr):
        words = any(isinstance(part, ast.Constant) and re.search(r"[A-Za-z]{2}", part.value) for part in node.values)
        return [node] if words else []
    if isinstance(node, (ast.BinOp, ast.IfExp, ast.BoolOp, ast.Tuple, ast.List)):
        found = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr) and child is not getattr(node, "test", None):
                found.extend(_bare_text(child))
        return found
    return []


def _message_arguments(call: ast.Call) -> list[ast.AST]:
    name = _call_name(call)
    arguments: list[ast.AST] = [keyword.value for keyword in call.keywords if keyword.arg in MESSAGE_KEYWORDS]
    if name == "print" or (name in CONSOLE_METHODS and isinstance(call.func, ast.Attribute)) or name in ERROR_CLASSES:
        arguments.extend(call.args[:1])
    for position in FINDING_ARGUMENTS.get(name, ()):
        arguments.extend(call.args[position:position + 1])
    if name in FINDING_ARGUMENTS:
        arguments.extend(keyword.value for keyword in call.keywords if keyword.arg in ("message", "fix"))
    return arguments


def unmarked_messages(source: str) -> list[tuple[int, str]]:
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for argument in _message_arguments(node):
                found.extend((literal.lineno, ast.unparse(literal)[:70]) for literal in _bare_text(argument)
                             if PRAGMA not in lines[literal.lineno - 1])
    return found


def _checked(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return not ({relative.parts[0], relative.name} & NOT_YET)


def test_messages_for_the_administrator_are_marked_for_the_catalogue():
    problems = [f"{path.relative_to(PACKAGE)}:{line}: {text}"
                for path in sorted(PACKAGE.rglob("*.py")) if _checked(path)
                for line, text in unmarked_messages(path.read_text())]
    assert not problems, "wrap these in _() (or ngettext):\n" + "\n".join(problems)


def test_the_unmarked_message_check_finds_what_it_should():
    source = '''
print("plain")
print(_("marked"))
console.say(f"{name} issued")
raise BadInput(_("bad {x}").format(x=1), hint="a hint")
Finding("dns", Severity.OK, "fine", _("fix it"))
log.info("for the log only")
print(", ".join(names))
print(_("{a} and {b}").format(a=marker.get("reason"), b="x"))
print("done" if ok else _("failed"))
Finding("cron", Severity.OK, detail, "ispa-cert cron install")
print(f"{home}/acme.sh --home {home}")  # i18n: not a message
'''
    assert [line for line, _text in unmarked_messages(source)] == [2, 4, 5, 6, 10]


def test_no_module_hides_the_translation_function_behind_a_variable():
    """`renewed, _ = ...` in a function makes every `_()` in it fail; comprehensions have their own scope."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        if not any(isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("i18n")
                   and any(alias.name == "_" for alias in node.names) for node in ast.walk(tree)):
            continue
        comprehension_targets = {id(target) for node in ast.walk(tree) if isinstance(node, ast.comprehension)
                                 for target in ast.walk(node.target)}
        problems += [f"{path.relative_to(PACKAGE)}:{node.lineno}" for node in ast.walk(tree)
                     if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
                     and id(node) not in comprehension_targets]
    assert not problems, "rename the throwaway variable (e.g. _unused):\n" + "\n".join(problems)


def test_no_message_is_marked_inside_an_f_string():
    """Babel does not look into f-strings: a `_()` there never reaches the catalogue."""
    problems = [f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in sorted(PACKAGE.rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.JoinedStr)
                and any(isinstance(inner, ast.Call) and _call_name(inner) in MARKERS for inner in ast.walk(node))]
    assert not problems, "take the message out of the f-string:\n" + "\n".join(problems)
