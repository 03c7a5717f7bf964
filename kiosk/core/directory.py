"""Passwords checked against the organisation's LDAP directory (python-ldap, imported lazily).

A sign-in finds the person's entry by email with the search account (or anonymously), then binds
as that entry with the typed password on a fresh connection; the directory alone judges the
password. The kiosk keeps no copy of it.

- An empty password is refused before any connection: a simple bind with a DN and no password
  is an "unauthenticated bind" (RFC 4513 §5.1.2) that many servers answer with success.
- The email goes into `user_filter` escaped (RFC 4515), so `*`, `(`, `)` and `\\` match only
  themselves.
- Every connection is TLS (ldaps://, or StartTLS for ldap://; config.py refuses anything
  else) with the server's certificate checked; a failed StartTLS drops the connection, never
  goes on in clear.
- Servers are tried in the configured order when one cannot be reached; a wrong password is
  never retried on the next server (the directory's own lockout would count it twice).
- The configured timeout bounds connecting, the TLS handshake and every operation. Referrals
  are not chased: a referral in place of an answer is "unavailable". Search continuation
  references next to entries (Active Directory adds them for its DNS partitions) are ignored.
- Group membership (when `group_dn` is set) is one base-scoped search of the group entry for
  `(|(member=DN)(uniqueMember=DN))`, made with the search account after the bind: it works on
  groupOfNames, groupOfUniqueNames and Active Directory groups without the memberOf overlay,
  and needs only read access to the group. Direct membership only (no nested groups).

`Directory` holds only settings: it is safe to share between threads, and every call opens
and closes its own connections (the calls block; run them in a worker).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from kiosk.config import DIRECTORY_EMAIL_PLACEHOLDER, DirectorySettings, Settings
from kiosk.errors import ConfigError, DirectoryRefused, DirectoryUnavailable, InvalidEmailError

log = logging.getLogger("kiosk.directory")

MAX_DISPLAY_NAME = 128
NAME_ATTRIBUTES = ("displayName", "cn")
OK, REFUSED, UNAVAILABLE = "ok", "refused", "unavailable"


@dataclass(frozen=True)
class DirectoryPerson:
    """The entry a password was accepted for. `email` is the address as typed, normalised."""

    dn: str
    display_name: str
    email: str


@dataclass(frozen=True)
class DiagnosticStep:
    """One line of `kiosk directory test`: which step, how it went, what happened."""

    step: str  # "input", "connect", "tls", "search-bind", "search", "bind", "group", "result"
    status: str  # "ok", "refused" or "unavailable"
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == OK


def _import_ldap() -> ModuleType:
    try:
        import ldap
        import ldap.filter
    except ImportError:  # installed with the `directory` extra: pip install 'kiosk[directory]'
        raise DirectoryUnavailable("python-ldap is not installed", step="connect") from None
    module: ModuleType = ldap
    return module


def _one_line(text: str, limit: int = 300) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(text).split()))
    return clean[:limit]


TLS_HINT = (
    "no TLS session: the server is down, or its certificate is not signed by the CA in "
    "directory.ca_file or not issued for this host name"
)


def _describe(exc: Exception) -> str:
    """A python-ldap error as one line: its description and the server's or library's info."""
    details = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc = details.get("desc") or exc.__class__.__name__
    info = details.get("info") or ""
    if info == "(unknown error code)":  # GnuTLS says nothing more about a refused handshake
        info = TLS_HINT
    elif info in ("Error in the push function.", "Error in the pull function."):
        info = "the connection was refused or closed before a TLS session began"
    return _one_line(f"{desc}: {info}" if info else str(desc))


def _first_value(attrs: dict[str, list[bytes]], names: tuple[str, ...]) -> str:
    lowered = {key.lower(): values for key, values in attrs.items()}
    for name in names:
        for value in lowered.get(name.lower(), []):
            text = _one_line(value.decode("utf-8", "replace"), MAX_DISPLAY_NAME).strip()
            if text:
                return text
    return ""


class Directory:
    """The directory of `settings`; relative file names resolve against `base_dir`."""

    def __init__(self, settings: DirectorySettings, base_dir: Path | None = None) -> None:
        if not settings.url:
            raise ConfigError("directory.url is not set in the config")
        if not settings.search_base.strip():
            raise ConfigError("directory.search_base is not set in the config")
        self.settings = settings
        self.base_dir = base_dir or Path.cwd()

    @classmethod
    def for_settings(cls, settings: Settings) -> Directory:
        """The directory of a loaded config: relative files resolve against its folder."""
        return cls(settings.directory, base_dir=settings.base_dir)

    def _path(self, name: str) -> Path:
        candidate = Path(name).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    # -------------------------------------------------------------------------------- API
    def authenticate(self, email: str, password: str) -> DirectoryPerson:
        """The person whose entry accepts `password`; DirectoryRefused or DirectoryUnavailable."""
        steps = self._check(email, password)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                person: DirectoryPerson = done.value
                return person

    def diagnose(self, email: str, password: str) -> Iterator[DiagnosticStep]:
        """The same checks as `authenticate`, step by step, ending with a "result" step."""
        try:
            person = yield from self._check(email, password)
        except DirectoryRefused as exc:
            yield DiagnosticStep(exc.step or "result", REFUSED, exc.reason)
            return
        except DirectoryUnavailable as exc:
            yield DiagnosticStep(exc.step or "result", UNAVAILABLE, exc.reason)
            return
        yield DiagnosticStep(
            "result", OK, f"{person.email} may sign in as {person.display_name!r} ({person.dn})"
        )

    # -------------------------------------------------------------------------------- steps
    def _check(
        self, email: str, password: str
    ) -> Generator[DiagnosticStep, None, DirectoryPerson]:
        from kiosk.core.accounts import normalize_email
        from kiosk.limits import MAX_PASSWORD_LENGTH

        try:
            email = normalize_email(email)
        except InvalidEmailError:
            raise DirectoryRefused("not a valid email address", step="input") from None
        if not password:
            raise DirectoryRefused(
                "empty password: never sent (an empty password binds as nobody)", step="input"
            )
        if len(password) > MAX_PASSWORD_LENGTH:  # the same cap as for local passwords
            raise DirectoryRefused("password longer than any password can be", step="input")
        ldap = _import_ldap()
        s = self.settings
        search_credentials = None
        if s.bind_dn:
            search_credentials = (s.bind_dn, self._read_bind_password())
        searcher, search_url = yield from self._connect(ldap, search_credentials, "search-bind")
        try:
            dn, attrs = yield from self._find(ldap, searcher, email)
            # The server that just answered first: a dead one earlier in the list costs no
            # second timeout.
            checker, _ = yield from self._connect(ldap, (dn, password), "bind", search_url)
            self._close(checker)
            yield DiagnosticStep("bind", OK, f"the password is accepted for {dn}")
            if s.group_dn:
                self._check_group(ldap, searcher, dn)
                yield DiagnosticStep("group", OK, f"{dn} is a member of {s.group_dn}")
        finally:
            self._close(searcher)
        name = _first_value(attrs, NAME_ATTRIBUTES) or email
        return DirectoryPerson(dn=dn, display_name=name, email=email)

    def _read_bind_password(self) -> str:
        """Read at each use (it may be rotated); never kept, never logged."""
        path = self._path(self.settings.bind_password_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DirectoryUnavailable(
                f"cannot read directory.bind_password_file {path}: {exc.__class__.__name__}",
                step="search-bind",
            ) from None
        secret = text[:-1] if text.endswith("\n") else text
        secret = secret[:-1] if secret.endswith("\r") else secret
        if not secret:
            raise DirectoryUnavailable(
                f"directory.bind_password_file {path} is empty", step="search-bind"
            )
        return secret

    def _options(self, ldap: ModuleType, conn: Any) -> None:
        s = self.settings
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        # Without an asynchronous connect, libldap 2.5 (GnuTLS) spins at full CPU for ever in
        # the ldaps:// handshake with a server that accepted the connection and went silent.
        conn.set_option(ldap.OPT_CONNECT_ASYNC, 1)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, float(s.timeout))
        conn.set_option(ldap.OPT_TIMEOUT, float(s.timeout))
        conn.timeout = s.timeout  # python-ldap's own wait for each synchronous result
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, ldap.OPT_X_TLS_PROTOCOL_TLS1_2)
        if s.ca_file:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(self._path(s.ca_file)))
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: applies the TLS options above

    def _connect(
        self,
        ldap: ModuleType,
        credentials: tuple[str, str] | None,
        purpose: str,
        first: str | None = None,
    ) -> Generator[DiagnosticStep, None, tuple[Any, str]]:
        """A bound connection to the first server that answers, trying each URL in order."""
        failures: list[str] = []
        urls = list(self.settings.url)
        if first in urls:
            urls.remove(first)
            urls.insert(0, first)
        for url in urls:
            conn = None
            try:
                conn = ldap.initialize(url)
                self._options(ldap, conn)
                if url.lower().startswith("ldap://"):
                    conn.start_tls_s()
                    how = "StartTLS"
                else:
                    how = "ldaps://"
                if credentials is None:
                    conn.simple_bind_s("", "")  # anonymous: opens the connection and TLS now
                else:
                    conn.simple_bind_s(*credentials)
            except ldap.INVALID_CREDENTIALS as exc:
                self._close(conn)
                if purpose == "bind":
                    raise DirectoryRefused(f"wrong password ({_describe(exc)})", "bind") from None
                raise DirectoryUnavailable(
                    f"the search account is refused, check directory.bind_dn and "
                    f"bind_password_file ({_describe(exc)})", purpose,
                ) from None
            except (ldap.INAPPROPRIATE_AUTH, ldap.UNWILLING_TO_PERFORM,
                    ldap.CONSTRAINT_VIOLATION, ldap.INSUFFICIENT_ACCESS) as exc:
                # The server answered and said no (e.g. a locked or disabled entry): its verdict.
                self._close(conn)
                if purpose == "bind":
                    raise DirectoryRefused(f"bind refused ({_describe(exc)})", "bind") from None
                raise DirectoryUnavailable(
                    f"the search bind is refused ({_describe(exc)})", purpose
                ) from None
            except ldap.LDAPError as exc:
                self._close(conn)
                reason = f"{url}: {_describe(exc)}"
                failures.append(reason)
                log.warning("directory server unavailable for the %s: %s", purpose, reason)
                if url != urls[-1]:
                    yield DiagnosticStep("connect", UNAVAILABLE, f"{reason} (trying the next URL)")
                continue
            who = "anonymous" if credentials is None else credentials[0]
            if purpose != "bind":
                yield DiagnosticStep("connect", OK, f"connected to {url}")
                ca = (f"against {self._path(self.settings.ca_file)}" if self.settings.ca_file
                      else "against the system's trusted CAs")
                yield DiagnosticStep("tls", OK, f"{how}, server certificate checked {ca}")
                yield DiagnosticStep(purpose, OK, f"bound as {who}")
            else:
                yield DiagnosticStep("connect", OK, f"connected to {url} for the password check")
            return conn, url
        raise DirectoryUnavailable(
            "no directory server answered: " + "; ".join(failures),
            "connect" if purpose != "bind" else "bind",
        )

    def _find(
        self, ldap: ModuleType, conn: Any, email: str
    ) -> Generator[DiagnosticStep, None, tuple[str, dict[str, list[bytes]]]]:
        s = self.settings
        value = ldap.filter.escape_filter_chars(email)
        query = s.user_filter.replace(DIRECTORY_EMAIL_PLACEHOLDER, value)
        try:
            results = conn.search_ext_s(
                s.search_base, ldap.SCOPE_SUBTREE, query, attrlist=list(NAME_ATTRIBUTES),
                sizelimit=2, timeout=s.timeout,
            )
        except ldap.SIZELIMIT_EXCEEDED:
            raise DirectoryRefused(
                f"more than one entry matches {query} under {s.search_base}", "search"
            ) from None
        except ldap.NO_SUCH_OBJECT as exc:
            raise DirectoryUnavailable(
                f"directory.search_base {s.search_base} does not exist ({_describe(exc)})",
                "search",
            ) from None
        except ldap.FILTER_ERROR as exc:
            raise DirectoryUnavailable(
                f"the server rejects directory.user_filter {s.user_filter} ({_describe(exc)})",
                "search",
            ) from None
        except ldap.REFERRAL as exc:
            raise DirectoryUnavailable(
                f"the server answered with a referral, not followed ({_describe(exc)})", "search"
            ) from None
        except ldap.LDAPError as exc:
            raise DirectoryUnavailable(f"search failed: {_describe(exc)}", "search") from None
        entries = [(dn, attrs) for dn, attrs in results if dn and isinstance(attrs, dict)]
        count = len(entries)
        yield DiagnosticStep(
            "search", OK,
            f"found {count} {'entry' if count == 1 else 'entries'} for {query} "
            f"under {s.search_base}",
        )
        if count == 0:
            raise DirectoryRefused("no entry has this email", "search")
        if count > 1:
            raise DirectoryRefused(f"{count} entries have this email", "search")
        dn, attrs = entries[0]
        return dn, attrs

    def _check_group(self, ldap: ModuleType, conn: Any, dn: str) -> None:
        s = self.settings
        value = ldap.filter.escape_filter_chars(dn)
        query = f"(|(member={value})(uniqueMember={value}))"
        try:
            found = conn.search_ext_s(
                s.group_dn, ldap.SCOPE_BASE, query, attrlist=["1.1"], timeout=s.timeout
            )
        except ldap.NO_SUCH_OBJECT as exc:
            raise DirectoryUnavailable(
                f"directory.group_dn {s.group_dn} does not exist ({_describe(exc)})", "group"
            ) from None
        except ldap.REFERRAL as exc:
            raise DirectoryUnavailable(
                f"the server answered with a referral, not followed ({_describe(exc)})", "group"
            ) from None
        except ldap.LDAPError as exc:
            raise DirectoryUnavailable(
                f"group check failed: {_describe(exc)}", "group"
            ) from None
        if not [entry_dn for entry_dn, _ in found if entry_dn]:
            raise DirectoryRefused(f"{dn} is not a member of {s.group_dn}", "group")

    @staticmethod
    def _close(conn: Any) -> None:
        if conn is None:
            return
        with contextlib.suppress(Exception):  # closing a connection that may already be gone
            conn.unbind_s()
