"""Messages in the administrator's language: gettext catalogues, English source strings as msgids.

`_("...")` translates a message, `ngettext(singular, plural, n)` a message with a number, and
`N_("...")` only marks a constant for extraction (translate it with `_()` where it is shown). The
catalogues are `locale/{cs,en}/LC_MESSAGES/ispa-cert.po`, compiled to `.mo` at build time
(`make dev`, `make install`; `make messages` extracts the template and updates them).

The language is `--lang cs|en` (read from the command line before Typer builds the `--help`
texts), else the first set of LC_ALL, LC_MESSAGES, LANG (and GNU's LANGUAGE list, unless the
locale is C or POSIX); anything but Czech is English.

A translated message is a `Text`: a str in the administrator's language that remembers its English
source, so that the log, `--json` and doctor's plugin line stay English whatever the language.
Placeholders are named (`_("cannot read {path}").format(path=...)`): a translation may reorder them.
"""

from __future__ import annotations

import gettext
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

DOMAIN = "ispa-cert"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "cs")
DEFAULT = "en"

# The answers a yes/no question accepts, per language; English ones are always understood.
_YES = {"en": ("y", "yes"), "cs": ("a", "ano", "y", "yes")}
_NO = {"en": ("n", "no"), "cs": ("n", "ne", "no")}

_current: str | None = None
_catalogue: gettext.NullTranslations | None = None


class Text(str):
    """A message in the administrator's language that remembers its English source (`english`)."""

    english: str

    def __new__(cls, translated: str, english_source: str) -> "Text":
        text = super().__new__(cls, translated)
        text.english = english_source
        return text

    def format(self, *args: Any, **kwargs: Any) -> "Text":  # type: ignore[override]
        return Text(str.format(self, *args, **kwargs),
                    self.english.format(*[english(arg) for arg in args],
                                        **{key: english(value) for key, value in kwargs.items()}))

    def __add__(self, other: str) -> "Text":  # type: ignore[override]
        return Text(str(self) + str(other), self.english + english(other))

    def __radd__(self, other: str) -> "Text":
        return Text(str(other) + str(self), english(other) + self.english)


def english(value: Any) -> Any:
    """The English source of a translated message; any other value as it is."""
    return value.english if isinstance(value, Text) else value


def join(separator: str, texts: Iterable[str]) -> Text:
    """separator.join(texts), keeping the English sources of translated parts."""
    parts = list(texts)
    return Text(separator.join(parts), separator.join(english(part) for part in parts))


def english_document(document: Any) -> Any:
    """A JSON document with every translated message replaced by its English source (stable keys and text)."""
    if isinstance(document, Text):
        return document.english
    if isinstance(document, Mapping):
        return {key: english_document(value) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [english_document(value) for value in document]
    return document


def _(message: str) -> Text:
    """The message in the administrator's language."""
    return Text(_translations().gettext(message), message)


def ngettext(singular: str, plural: str, count: int) -> Text:
    """The singular or plural form for count, in the administrator's language (Czech has three)."""
    return Text(_translations().ngettext(singular, plural, count), singular if count == 1 else plural)


def N_(message: str) -> str:
    """Mark a constant for the catalogue; translate it with `_()` where it is shown."""
    return message


class Worded(Enum):
    """An Enum whose values are English words marked with N_: `.value` for --json and the log,
    `.label` in the administrator's language."""

    @property
    def label(self) -> str:
        return _(self.value)


def language() -> str:
    """The language messages are in: "cs" or "en"."""
    _translations()
    return _current or DEFAULT


def set_language(code: str | None) -> str:
    """Use this language from now on (None: decide from the command line and the environment again)."""
    global _current, _catalogue
    _current = supported(code) if code else resolve(sys.argv[1:], os.environ)
    _catalogue = gettext.translation(DOMAIN, LOCALE_DIR, languages=[_current], fallback=True)
    return _current


def _translations() -> gettext.NullTranslations:
    if _catalogue is None:
        set_language(None)
    assert _catalogue is not None
    return _catalogue


def resolve(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The language from `--lang` on the command line, else from the locale variables."""
    chosen = lang_option(argv)
    return supported(chosen) if chosen else from_environment(environ)


def lang_option(argv: Sequence[str]) -> str | None:
    """The value of `--lang X` / `--lang=X` on a command line, if given (up to a lone `--`)."""
    for index, argument in enumerate(argv):
        if argument == "--":
            return None
        if argument.startswith("--lang="):
            return argument.split("=", 1)[1]
        if argument == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def from_environment(environ: Mapping[str, str]) -> str:
    """The language of the locale: LC_ALL, else LC_MESSAGES, else LANG (the first one set); GNU's
    LANGUAGE list goes first unless that locale is C or POSIX. Anything but Czech is English."""
    locale = next((environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), "")
    if locale and _language_of(locale) not in ("c", "posix"):
        for entry in environ.get("LANGUAGE", "").split(":"):
            if _language_of(entry) in LANGUAGES:
                return _language_of(entry)
    return supported(locale)


def supported(code: str) -> str:
    """"cs", "cs_CZ.UTF-8" → "cs"; "en_GB" → "en"; anything else → English."""
    language_code = _language_of(code)
    return language_code if language_code in LANGUAGES else DEFAULT


def _language_of(locale: str) -> str:
    return locale.split(".", 1)[0].split("@", 1)[0].split("_", 1)[0].split("-", 1)[0].strip().lower()


def answer(reply: str) -> bool | None:
    """A yes/no reply in the administrator's language: True, False, or None when it is neither."""
    word = reply.strip().lower()
    if word in _YES[language()]:
        return True
    if word in _NO[language()]:
        return False
    return None
