"""The catalogs match the code: every message a person reads is translated, none is stale, and
the compiled .mo files (committed, so a clean checkout runs in every language) match the .po.

After changing a message: extract, update, translate, compile (README, "Languages and
accessibility"); this test names what is missing.
"""

from __future__ import annotations

import gettext
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from kiosk.i18n import LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in LANGUAGES if code != "en"]


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _ids(catalog: Catalog) -> set[str]:
    return {str(message.id) for message in catalog if message.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The messages the code marks today, extracted afresh with the project's Babel config."""
    pot = tmp_path_factory.mktemp("catalog") / "kiosk.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "N_", "--no-location", "-o", str(pot), "kiosk"],
        cwd=ROOT, check=True, capture_output=True,
    )
    catalog = _read(pot)
    assert len(_ids(catalog)) > 50, "extraction found almost nothing: is babel.cfg right?"
    return catalog


def test_the_committed_template_is_current(extracted: Catalog) -> None:
    committed = _read(LOCALE_DIR / "kiosk.pot")
    assert _ids(committed) == _ids(extracted), (
        "kiosk/locale/kiosk.pot is out of date: run the extract command (README)"
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_and_none_is_stale(
    language: str, extracted: Catalog
) -> None:
    catalog = _read(LOCALE_DIR / language / "LC_MESSAGES" / "kiosk.po")
    wanted, present = _ids(extracted), _ids(catalog)
    missing = sorted(wanted - present)
    stale = sorted(present - wanted)
    untranslated = sorted(str(m.id) for m in catalog if m.id and not m.string)
    fuzzy = sorted(str(m.id) for m in catalog if m.id and m.fuzzy)
    obsolete = sorted(str(key) for key in catalog.obsolete)
    assert not missing, f"{language}: messages missing from the catalog: {missing}"
    assert not stale, f"{language}: messages the code no longer uses: {stale}"
    assert not untranslated, f"{language}: empty translations: {untranslated}"
    assert not fuzzy, f"{language}: fuzzy (unchecked) translations: {fuzzy}"
    assert not obsolete, f"{language}: obsolete (#~) entries left in: {obsolete}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_survive_translation(language: str) -> None:
    """A translation that drops or renames `{time}` would break the message it fills."""
    import string

    catalog = _read(LOCALE_DIR / language / "LC_MESSAGES" / "kiosk.po")
    for message in catalog:
        if not message.id:
            continue
        names = {f for _, f, _, _ in string.Formatter().parse(str(message.id)) if f}
        translated = {f for _, f, _, _ in string.Formatter().parse(str(message.string)) if f}
        assert names == translated, f"{language}: {message.id!r} has {translated}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(language: str) -> None:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    compiled = BytesIO()
    write_mo(compiled, _read(folder / "kiosk.po"))
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
    with (folder / "kiosk.mo").open("rb") as handle:
        shipped = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    assert shipped == expected, f"{folder / 'kiosk.mo'} is stale: run pybabel compile (README)"
