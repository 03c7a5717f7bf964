"""Settings: frozen dataclasses loaded once from config.toml and validated.

Looked up from `--config PATH`, else `$KIOSK_CONFIG`, else `./config.toml` (the CLI decides which;
this module only reads the file it is given). Relative paths resolve against the config file's
folder. An unknown section or key, or a value of the wrong type, is a `ConfigError` naming it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk.errors import ConfigError
from kiosk.i18n import LANGUAGES

MODES = ("kiosk", "ssh")
INTERFACES = ("full", "plain")  # full-screen, or plain lines (screen readers, serial consoles)
THEMES = ("default", "high-contrast")
DIRECTORY_EMAIL_PLACEHOLDER = "{email}"


@dataclass(frozen=True)
class KioskSettings:
    """[kiosk]: what the screens say and how a session behaves."""

    organization: str = "Procore"
    mode: str = "kiosk"
    interface: str = "full"
    idle_timeout: int = 120
    signed_in_timeout: int = 15
    log_file: str = "kiosk.log"
    language: str = "en"  # a key of kiosk.i18n.LANGUAGES; a person may choose another on Sign in
    theme: str = "default"  # or "high-contrast" (THEMES)


@dataclass(frozen=True)
class DatabaseSettings:
    """[database]: where accounts live (SQLite file, or PostgreSQL for several kiosks)."""

    url: str = "sqlite:///kiosk.db"


@dataclass(frozen=True)
class SecuritySettings:
    """[security]: the key file, lockout and TOTP window, password rules."""

    key_file: str = "kiosk.key"
    max_failed_attempts: int = 5
    lockout_minutes: int = 15
    totp_window: int = 1
    password_min_length: int = 8
    # A key file with group or other permission bits is refused unless this is true (e.g. a key
    # shared with a group on purpose, root:kiosk 0640).
    allow_loose_key_file: bool = False


@dataclass(frozen=True)
class Argon2Settings:
    """[argon2]: argon2id cost for passwords and recovery codes."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4


@dataclass(frozen=True)
class DirectorySettings:
    """[directory]: check passwords against the organisation's LDAP directory (off by default).

    `url` holds one or more servers, tried in order (fail-over). Passwords never cross the
    network in clear: every URL is ldaps://, or ldap:// with start_tls. `bind_password_file` is
    read when a search runs, never kept or logged.
    """

    enabled: bool = False
    url: tuple[str, ...] = ()
    start_tls: bool = False
    ca_file: str = ""  # empty: the system's trusted CAs
    search_base: str = ""
    user_filter: str = "(mail={email})"
    bind_dn: str = ""  # empty: anonymous search
    bind_password_file: str = ""
    group_dn: str = ""  # empty: every entry found may sign in
    timeout: int = 10  # seconds, for connecting and for each operation


@dataclass(frozen=True)
class ServeSettings:
    """[serve]: `kiosk serve`, the kiosk in a browser."""

    allowed_origins: tuple[str, ...] = ()  # pages besides the served address that may connect
    max_sessions: int = 10  # browser sessions (one kiosk process each) at the same time


@dataclass(frozen=True)
class OnboardingSettings:
    """[onboarding]: guided onboarding sessions (cohorts, passes, handouts, the board)."""

    connect: str = ""  # how people reach the kiosk, printed on handouts (an ssh line, a room)
    idle_minutes: int = 10  # a person on one step longer than this needs attention on the board


@dataclass(frozen=True)
class Settings:
    """The whole config.toml, validated, with the folder relative paths resolve against."""

    kiosk: KioskSettings = field(default_factory=KioskSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    argon2: Argon2Settings = field(default_factory=Argon2Settings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    onboarding: OnboardingSettings = field(default_factory=OnboardingSettings)
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate)

    @property
    def key_path(self) -> Path:
        return self.resolve(self.security.key_file)

    @property
    def log_path(self) -> Path:
        return self.resolve(self.kiosk.log_file)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:" and not rest.startswith("/"):
                return prefix + str(self.resolve(rest))
        return url


def redact_url(url: str) -> str:
    """`url` fit to print: a password in it (user:password@, or ?password=) shown as `***`.

    Every place that prints a database URL (demo, `db status`, messages) goes through here.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            if ":" in userinfo:
                netloc = userinfo.split(":", 1)[0] + ":***@" + hostport
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(key.lower() == "password" for key, _ in pairs):
                query = urlencode(
                    [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*"
                )
        if (netloc, query) == (parts.netloc, parts.query):
            return url  # nothing hidden: as written (urlunsplit would drop sqlite's empty host)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not a URL urllib can split: hide anything between ':' and '@'
        return re.sub(r"(//[^/:@]*):[^@]*@", r"\1:***@", url)


_SECTIONS: dict[str, type] = {
    "kiosk": KioskSettings,
    "database": DatabaseSettings,
    "security": SecuritySettings,
    "argon2": Argon2Settings,
    "directory": DirectorySettings,
    "serve": ServeSettings,
    "onboarding": OnboardingSettings,
}

_TYPE_NAMES = {
    int: "a whole number",
    str: "a string",
    bool: "true or false",
    tuple: "a string or a list of strings",
}


def _as_string_tuple(value: Any) -> tuple[str, ...] | None:
    """A list of strings, or one string of space-separated words; None for anything else."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(word for item in value for word in item.split())
    return None


def normalize_origin(url: str, *, allow_path: bool = False) -> str:
    """`scheme://host[:port]` of an http(s) URL, as a browser writes it in an Origin header
    (lower case, default port left out), so that equal origins compare equal as strings.
    Raises ValueError for anything else (a path too, unless `allow_path`)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise ValueError(url)
    if not allow_path and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(url)
    port = parts.port  # ValueError when not a number in 0..65535
    host = f"[{host}]" if ":" in host else host
    default_port = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def _build_section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"unknown key '{key}' in [{name}]")
        expected = type(known[key].default)
        if expected is tuple:
            value = _as_string_tuple(value)
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not ok:
            raise ConfigError(
                f"{name}.{key} must be {_TYPE_NAMES.get(expected, expected.__name__)}"
            )
        values[key] = value
    return cls(**values)


def _validate(settings: Settings) -> None:
    k, s, a, w = settings.kiosk, settings.security, settings.argon2, settings.serve
    if k.mode not in MODES:
        raise ConfigError(f"kiosk.mode must be one of {', '.join(MODES)}")
    if k.interface not in INTERFACES:
        raise ConfigError(f"kiosk.interface must be one of {', '.join(INTERFACES)}")
    if k.language not in LANGUAGES:
        raise ConfigError(f"kiosk.language must be one of {', '.join(LANGUAGES)}")
    if k.theme not in THEMES:
        raise ConfigError(f"kiosk.theme must be one of {', '.join(THEMES)}")
    org = k.organization
    if not org.strip() or len(org) > 64 or ":" in org or not org.isprintable():
        # isprintable: the name is drawn on every screen and sent to authenticator apps.
        raise ConfigError("kiosk.organization must be 1 to 64 printable characters, without ':'")
    connect = settings.onboarding.connect
    if len(connect) > 200 or not connect.isprintable():
        raise ConfigError("onboarding.connect must be at most 200 printable characters")
    checks = [
        ("kiosk.idle_timeout", k.idle_timeout, 10, 86400),
        ("kiosk.signed_in_timeout", k.signed_in_timeout, 1, 3600),
        ("security.max_failed_attempts", s.max_failed_attempts, 1, 100),
        ("security.lockout_minutes", s.lockout_minutes, 1, 10080),
        ("security.totp_window", s.totp_window, 0, 2),
        ("security.password_min_length", s.password_min_length, 8, 128),
        ("argon2.time_cost", a.time_cost, 1, 20),
        ("argon2.memory_cost", a.memory_cost, 8 * 1024, 4 * 1024 * 1024),
        ("argon2.parallelism", a.parallelism, 1, 64),
        ("serve.max_sessions", w.max_sessions, 1, 1000),
        ("onboarding.idle_minutes", settings.onboarding.idle_minutes, 1, 24 * 60),
    ]
    for name, value, low, high in checks:
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}")
    for name, text in (("kiosk.log_file", k.log_file), ("security.key_file", s.key_file),
                       ("database.url", settings.database.url)):
        if not text.isprintable():
            raise ConfigError(f"{name} must not contain control characters")
    for origin in w.allowed_origins:
        try:
            normalize_origin(origin)
        except ValueError:
            raise ConfigError(
                "serve.allowed_origins: each entry must be scheme://host[:port] with http or "
                f"https and no path, not {origin[:100]!r}"
            ) from None
    url = settings.database.url
    if not (url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://"))):
        raise ConfigError("database.url must start with sqlite:/// or postgresql://")
    _validate_directory(settings.directory)


def _validate_directory(d: DirectorySettings) -> None:
    """Every value given is checked; the ones a search needs are required once enabled."""
    texts = [("ca_file", d.ca_file), ("search_base", d.search_base),
             ("user_filter", d.user_filter), ("bind_dn", d.bind_dn),
             ("bind_password_file", d.bind_password_file), ("group_dn", d.group_dn)]
    for name, text in texts + [("url", " ".join(d.url))]:
        if not text.isprintable():
            raise ConfigError(f"directory.{name} must not contain control characters")
    if not 1 <= d.timeout <= 300:
        raise ConfigError("directory.timeout must be between 1 and 300")
    for url in d.url:
        _check_directory_url(url, d.start_tls)
    if d.user_filter.count(DIRECTORY_EMAIL_PLACEHOLDER) < 1 or not (
        d.user_filter.startswith("(") and d.user_filter.endswith(")")
    ):
        raise ConfigError(
            "directory.user_filter must be an LDAP filter in parentheses containing {email}, "
            "e.g. (mail={email})"
        )
    if d.bind_dn and not d.bind_password_file:
        # A bind DN with an empty password is an unauthenticated bind: it "succeeds" as nobody.
        raise ConfigError("directory.bind_dn needs directory.bind_password_file")
    if d.bind_password_file and not d.bind_dn:
        raise ConfigError("directory.bind_password_file is set but directory.bind_dn is not")
    if d.enabled:
        if not d.url:
            raise ConfigError("directory.url is required when the directory is enabled")
        if not d.search_base.strip():
            raise ConfigError("directory.search_base is required when the directory is enabled")


def _check_directory_url(url: str, start_tls: bool) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    shape_ok = (
        parts is not None
        and parts.scheme.lower() in ("ldap", "ldaps")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment or parts.username or parts.password)
    )
    if not shape_ok or parts is None:
        raise ConfigError(
            f"directory.url {url!r} must look like ldaps://host[:port] or ldap://host[:port]"
        )
    if port == 0:
        raise ConfigError(f"directory.url {url!r} has a port that is not 1 to 65535")
    if parts.scheme.lower() == "ldap" and not start_tls:
        raise ConfigError(
            f"directory.url {url!r} would send passwords in clear: "
            "use ldaps:// or set directory.start_tls = true"
        )


def load_settings(path: Path | None) -> Settings:
    """Read and validate `path`; with None, the documented defaults relative to the cwd."""
    if path is None:
        settings = Settings()
        _validate(settings)
        return settings
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
        reason = "".join(ch if ch.isprintable() else "?" for ch in str(exc).split("\n")[0])
        raise ConfigError(f"config file {path} is not valid TOML: {reason[:200]}") from None
    for section in raw:
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {path}")
    parts = {name: _build_section(name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    settings = Settings(**parts, base_dir=Path(path).resolve().parent)
    _validate(settings)
    return settings
