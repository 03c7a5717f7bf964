"""`[kiosk] language` and `[kiosk] theme`: defaults, the accepted values, a clear one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import THEMES, load_settings
from kiosk.errors import ConfigError
from kiosk.i18n import LANGUAGES


def _load(tmp_path: Path, kiosk: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(f"[kiosk]\n{kiosk}\n", encoding="utf-8")
    return load_settings(path)


def test_english_and_the_default_theme_unless_configured(tmp_path: Path) -> None:
    settings = load_settings(_write_empty(tmp_path))
    assert settings.kiosk.language == "en"
    assert settings.kiosk.theme == "default"


def _write_empty(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    return path


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_language_with_a_catalog_is_accepted(tmp_path: Path, language: str) -> None:
    assert _load(tmp_path, f'language = "{language}"').kiosk.language == language  # type: ignore[attr-defined]


@pytest.mark.parametrize("theme", THEMES)
def test_both_themes_are_accepted(tmp_path: Path, theme: str) -> None:
    assert _load(tmp_path, f'theme = "{theme}"').kiosk.theme == theme  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('language = "de"', "kiosk.language must be one of en, es, fr"),
        ('language = "ES"', "kiosk.language must be one of en, es, fr"),
        ('theme = "dark"', "kiosk.theme must be one of default, high-contrast"),
        ("language = 1", "kiosk.language must be"),
    ],
)
def test_a_wrong_value_is_a_one_line_error_naming_the_key(
    tmp_path: Path, line: str, named: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, line)
    assert named in str(info.value) and "\n" not in str(info.value)
