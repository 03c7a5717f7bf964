"""[serve]: the browser front end's allow-list and session cap, validated like every section."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ServeSettings, Settings, load_settings, normalize_origin
from kiosk.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path)


def test_the_shipped_config_documents_the_serve_defaults() -> None:
    assert load_settings(REPO / "config.toml").serve == ServeSettings()
    assert ServeSettings() == ServeSettings(allowed_origins=(), max_sessions=10)


def test_serve_values_are_read(tmp_path: Path) -> None:
    s = _load(tmp_path, '[serve]\nallowed_origins = ["https://Kiosk.Example.org:443"]\n'
                        "max_sessions = 3\n")
    assert s.serve.allowed_origins == ("https://Kiosk.Example.org:443",)
    assert s.serve.max_sessions == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[serve]\nmax_session = 3\n", "unknown key 'max_session' in [serve]"),
        ("[serve]\nallowed_origins = [1]\n", "a string or a list of strings"),
        ("[serve]\nmax_sessions = 0\n", "serve.max_sessions must be between 1 and 1000"),
        ('[serve]\nmax_sessions = "4"\n', "serve.max_sessions must be a whole number"),
        ('[serve]\nallowed_origins = ["https://a.example/path"]\n', "serve.allowed_origins"),
        ('[serve]\nallowed_origins = ["a.example"]\n', "serve.allowed_origins"),
        ('[serve]\nallowed_origins = ["ftp://a.example"]\n', "serve.allowed_origins"),
        ('[serve]\nallowed_origins = ["*"]\n', "serve.allowed_origins"),
    ],
)
def test_bad_serve_values_are_named(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Kiosk.Example.org:443", "https://kiosk.example.org"),
        ("http://127.0.0.1:80/", "http://127.0.0.1"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_origins_compare_as_a_browser_writes_them(url: str, origin: str) -> None:
    assert normalize_origin(url) == origin


def test_a_public_url_may_have_a_path() -> None:
    assert normalize_origin("https://a.example/kiosk/", allow_path=True) == "https://a.example"
    with pytest.raises(ValueError):
        normalize_origin("https://a.example/kiosk/")
