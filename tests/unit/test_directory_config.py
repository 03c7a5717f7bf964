"""[directory]: off by default, every key checked, passwords never configured to travel in clear."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import DirectorySettings, Settings, load_settings
from kiosk.core.directory import Directory
from kiosk.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
GOOD = 'enabled = true\nurl = "ldaps://ldap.example.org"\nsearch_base = "dc=example,dc=org"\n'


def _load(tmp_path: Path, body: str) -> DirectorySettings:
    path = tmp_path / "config.toml"
    path.write_text("[directory]\n" + body)
    return load_settings(path).directory


def test_off_by_default_and_the_shipped_config_documents_the_defaults() -> None:
    assert Settings().directory == DirectorySettings()
    assert DirectorySettings().enabled is False
    assert load_settings(REPO / "config.toml").directory == DirectorySettings()
    text = (REPO / "config.toml").read_text()
    section = text[text.index("[directory]") :]
    for key in DirectorySettings.__dataclass_fields__:
        assert f"\n{key} = " in section, key


def test_url_takes_a_list_or_space_separated_words(tmp_path: Path) -> None:
    one = _load(tmp_path, GOOD.replace('"ldaps://ldap.example.org"',
                                       '"ldaps://a.example.org  ldaps://b.example.org:6636/"'))
    assert one.url == ("ldaps://a.example.org", "ldaps://b.example.org:6636/")
    listed = _load(tmp_path, GOOD.replace('"ldaps://ldap.example.org"',
                                          '["ldaps://a.example.org", "ldaps://b.example.org"]'))
    assert listed.url == ("ldaps://a.example.org", "ldaps://b.example.org")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('url = "ldap://ldap.example.org"\n', "in clear"),
        ('url = ["ldaps://a.example.org", "ldap://b.example.org"]\n', "in clear"),
        ('url = "http://ldap.example.org"\n', "directory.url"),
        ('url = "ldaps://"\n', "directory.url"),
        ('url = "ldaps://h:99999"\n', "directory.url"),
        ('url = "ldaps://h/dc=example?cn"\n', "directory.url"),
        ("url = 3\n", "directory.url must be a string or a list of strings"),
        ("url = [1, 2]\n", "directory.url must be a string or a list of strings"),
        ("timeout = 0\n", "directory.timeout"),
        ("timeout = 301\n", "directory.timeout"),
        ('timeout = "10"\n', "directory.timeout"),
        ('enabled = "yes"\n', "directory.enabled"),
        ('user_filter = "(mail=x)"\n', "{email}"),
        ('user_filter = "mail={email}"\n', "{email}"),
        ('bind_dn = "cn=reader,dc=example,dc=org"\n', "bind_password_file"),
        ('bind_password_file = "reader.secret"\n', "bind_dn"),
        ('search_base = "dc=ex\\u0007ample"\n', "control characters"),
        ("surname = 1\n", "unknown key 'surname'"),
    ],
)
def test_a_bad_value_is_one_clear_error(tmp_path: Path, body: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, body)
    assert named in str(caught.value)


def test_start_tls_allows_ldap_urls(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'url = "ldap://ldap.example.org"\nstart_tls = true\n')
    assert loaded.url == ("ldap://ldap.example.org",) and loaded.start_tls


@pytest.mark.parametrize(("drop", "named"), [("url", "directory.url"),
                                            ("search_base", "directory.search_base")])
def test_enabled_needs_a_server_and_a_search_base(tmp_path: Path, drop: str, named: str) -> None:
    body = "".join(line + "\n" for line in GOOD.splitlines() if not line.startswith(drop))
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, body)
    assert named in str(caught.value)


def test_a_directory_without_a_server_is_a_config_error_not_a_crash() -> None:
    with pytest.raises(ConfigError):
        Directory(DirectorySettings())


def test_python_ldap_is_imported_only_when_a_directory_is_asked() -> None:
    script = (
        "import sys, kiosk.core.directory, kiosk.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ldap', '_ldap')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
