"""Configuration: defaults, strict keys and types, paths relative to the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import Settings, load_settings
from kiosk.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    s = Settings()
    assert s.kiosk.organization == "Procore" and s.kiosk.mode == "kiosk"
    assert s.kiosk.idle_timeout == 120
    assert s.database.url == "sqlite:///kiosk.db"
    assert s.security.key_file == "kiosk.key"
    assert s.security.max_failed_attempts == 5 and s.security.lockout_minutes == 15
    assert s.security.totp_window == 1 and s.security.password_min_length == 8
    assert (s.argon2.time_cost, s.argon2.memory_cost, s.argon2.parallelism) == (3, 65536, 4)


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, ""))
    assert s.kiosk == Settings().kiosk and s.security == Settings().security
    assert s.base_dir == tmp_path.resolve()


def test_the_shipped_config_toml_is_valid_and_documents_the_defaults() -> None:
    shipped = load_settings(REPO / "config.toml")
    defaults = Settings()
    assert shipped.kiosk == defaults.kiosk
    assert shipped.security == defaults.security
    assert shipped.argon2 == defaults.argon2
    assert shipped.database == defaults.database


def test_values_are_read(tmp_path: Path) -> None:
    s = load_settings(
        _write(
            tmp_path,
            """
[kiosk]
organization = "Acme"
mode = "ssh"
idle_timeout = 60
[security]
max_failed_attempts = 3
lockout_minutes = 30
totp_window = 0
""",
        )
    )
    assert s.kiosk.organization == "Acme" and s.kiosk.mode == "ssh" and s.kiosk.idle_timeout == 60
    assert s.security.max_failed_attempts == 3 and s.security.lockout_minutes == 30
    assert s.security.totp_window == 0


def test_unknown_section_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[secuirty\]"):
        load_settings(_write(tmp_path, "[secuirty]\nkey_file = 'x'\n"))


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, "[security]\nmax_failed_attempt = 3\n"))
    assert "max_failed_attempt" in str(info.value) and "[security]" in str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('[kiosk]\nidle_timeout = "120"\n', "kiosk.idle_timeout", "a whole number"),
        ("[kiosk]\nidle_timeout = 1.5\n", "kiosk.idle_timeout", "a whole number"),
        (
            "[security]\nmax_failed_attempts = true\n",
            "security.max_failed_attempts",
            "a whole number",
        ),
        ("[kiosk]\norganization = 5\n", "kiosk.organization", "a string"),
        ("[database]\nurl = ['x']\n", "database.url", "a string"),
    ],
)
def test_wrong_type_names_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text))
    assert key in str(info.value) and expected in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[kiosk]\nmode = "desk"\n', "kiosk.mode"),
        ("[security]\nmax_failed_attempts = 0\n", "security.max_failed_attempts"),
        ("[security]\ntotp_window = 5\n", "security.totp_window"),
        ("[security]\npassword_min_length = 4\n", "security.password_min_length"),
        ("[argon2]\nmemory_cost = 16\n", "argon2.memory_cost"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ("kiosk = 3\n", "[kiosk]"),
    ],
)
def test_out_of_range_values_are_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text))
    assert key in str(info.value)


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc" / "kiosk"
    folder.mkdir(parents=True)
    config = folder / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///data/k.db"\n'
        '[security]\nkey_file = "secret/k.key"\n[kiosk]\nlog_file = "k.log"\n'
    )
    monkeypatch.chdir(tmp_path)
    s = load_settings(Path("etc/kiosk/config.toml"))
    assert s.database_url == f"sqlite:///{folder.resolve()}/data/k.db"
    assert s.key_path == folder.resolve() / "secret" / "k.key"
    assert s.log_path == folder.resolve() / "k.log"


def test_absolute_paths_and_postgres_urls_are_kept(tmp_path: Path) -> None:
    s = load_settings(
        _write(
            tmp_path,
            '[database]\nurl = "sqlite:////var/lib/k.db"\n[security]\nkey_file = "/etc/k.key"\n',
        )
    )
    assert s.database_url == "sqlite:////var/lib/k.db" and s.key_path == Path("/etc/k.key")
    s = load_settings(_write(tmp_path, '[database]\nurl = "postgresql://u@h/db"\n'))
    assert s.database_url == "postgresql://u@h/db"


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[kiosk\n"))
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "bin.toml")
    with pytest.raises(ConfigError):
        load_settings(tmp_path)  # a folder
