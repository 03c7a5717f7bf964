"""`[kiosk] interface`: "full" (default) or "plain"; anything else is named and refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.errors import ConfigError


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path)


def test_interface_defaults_to_full_and_reads_plain(tmp_path: Path) -> None:
    assert _load(tmp_path, "").kiosk.interface == "full"
    assert _load(tmp_path, '[kiosk]\ninterface = "plain"\n').kiosk.interface == "plain"


@pytest.mark.parametrize("value", ['"Plain"', '"braille"', '""', "1", "true"])
def test_any_other_interface_is_refused_by_name(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="kiosk.interface"):
        _load(tmp_path, f"[kiosk]\ninterface = {value}\n")
