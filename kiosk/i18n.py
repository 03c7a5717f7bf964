"""The words a person reads, in their language: gettext catalogs under kiosk/locale.

One person at a time uses a kiosk process, so the language is this process's current one:
`set_language` at the start of a session (from `[kiosk] language`, or the person's choice on
Sign in), back to the configured one when the session is wiped. `_()` looks a message up in the
current catalog; `N_()` only marks a message for extraction where it is defined (the core raises
errors with English messages marked so, and the front ends translate them when they show them).

Catalogs: `kiosk/locale/<lang>/LC_MESSAGES/kiosk.po`, extracted and compiled with Babel
(see README, Development). Importable before the store opens; imports nothing heavy.
"""

from __future__ import annotations

import gettext as _gettext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).with_name("locale")
# Language code -> its own name (how the choice on Sign in shows it).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español", "fr": "Français"}
DEFAULT_LANGUAGE = "en"

_current = DEFAULT_LANGUAGE
_translations: dict[str, _gettext.NullTranslations] = {}


def _catalog(language: str) -> _gettext.NullTranslations:
    if language not in _translations:
        _translations[language] = _gettext.translation(
            DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True
        )
    return _translations[language]


def set_language(language: str) -> None:
    """Make `language` (a key of LANGUAGES) the one `_()` answers in."""
    global _current
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    _current = language


def current_language() -> str:
    return _current


def _(message: str) -> str:
    """`message` in the current language (the English text when the catalog lacks it)."""
    return _catalog(_current).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _catalog(_current).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it here (translated when shown)."""
    return message


def format_time(moment: datetime) -> str:
    """Hours and minutes of `moment` (UTC) as the current language writes them (Babel)."""
    from babel.dates import format_time as babel_format_time

    return str(babel_format_time(moment, format="short", tzinfo=UTC, locale=_current))


def localized(error: Exception) -> str:
    """What a `KioskError` says in the current language: its template translated, then its
    params (times and numbers formatted for the language) put in. English text otherwise."""
    template = getattr(error, "template", None)
    if not template:
        return str(error)
    params: dict[str, Any] = {}
    for name, value in getattr(error, "params", {}).items():
        params[name] = format_time(value) if isinstance(value, datetime) else value
    text = _(template)
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):  # a broken translation: the English sentence
        return str(error)
