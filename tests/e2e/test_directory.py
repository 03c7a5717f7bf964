"""Passwords checked against a real OpenLDAP server (Debian's slapd, started by the tests).

Each test talks to slapd over real TLS with a CA made for the session; what reached the server
is read from its own operation log. Tests that stop, kill or freeze a server get a private one.
No timing assertions: a pytest-timeout mark says "returns", the timeout setting bounds the wait.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.config import DirectorySettings
from kiosk.core.directory import DiagnosticStep, Directory, DirectoryPerson
from kiosk.errors import AuthenticationFailed, DirectoryRefused, DirectoryUnavailable
from tests.conftest import REPO
from tests.support.slapd import (
    AD_DISABLED,
    AD_USER,
    AD_USER_MAIL,
    ADA,
    GRACE,
    GROUP_DN,
    MALLORY,
    ODD,
    PEOPLE_DN,
    READER_DN,
    READER_PASSWORD,
    TWIN_EMAIL,
    TWIN_PASSWORD,
    UNIQUE_GROUP_DN,
    SlapdServer,
    free_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slapd]

UNAVAILABLE_TEXT = "The sign-in service can't be reached; try again shortly or ask IT staff."


def _steps(settings: DirectorySettings, email: str, password: str) -> list[DiagnosticStep]:
    return list(Directory(settings).diagnose(email, password))


def _search_step(steps: list[DiagnosticStep]) -> DiagnosticStep:
    return next(s for s in steps if s.step == "search" and s.ok)


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


# ------------------------------------------------------------------------------- passwords
@pytest.mark.timeout(60, method="thread")
def test_the_right_password_gives_the_person(directory_settings: DirectorySettings) -> None:
    person = Directory(directory_settings).authenticate("  Ada@Example.ORG ", ADA.password)
    assert person == DirectoryPerson(dn=ADA.dn, display_name=ADA.display_name, email=ADA.email)


@pytest.mark.timeout(60, method="thread")
def test_a_display_name_from_the_directory_is_one_printable_line(
    directory_settings: DirectorySettings,
) -> None:
    person = Directory(directory_settings).authenticate(MALLORY.email, MALLORY.password)
    assert person.display_name.isprintable() and "\x1b" not in person.display_name
    assert "Mal" in person.display_name and "lory" in person.display_name


@pytest.mark.timeout(60, method="thread")
def test_a_wrong_password_is_refused_with_the_generic_message(
    directory_settings: DirectorySettings,
) -> None:
    with pytest.raises(DirectoryRefused) as caught:
        Directory(directory_settings).authenticate(ADA.email, "not the password")
    assert caught.value.step == "bind"
    assert isinstance(caught.value, AuthenticationFailed)  # shown like a local wrong password
    assert str(caught.value) == str(AuthenticationFailed())
    assert "not the password" not in caught.value.reason


@pytest.mark.timeout(60, method="thread")
def test_an_unknown_email_is_refused_after_the_search(
    directory_settings: DirectorySettings,
) -> None:
    with pytest.raises(DirectoryRefused) as caught:
        Directory(directory_settings).authenticate("nobody@example.org", ADA.password)
    assert caught.value.step == "search"
    assert str(caught.value) == str(AuthenticationFailed())


@pytest.mark.timeout(60, method="thread")
def test_an_email_shared_by_two_entries_is_refused(
    directory_settings: DirectorySettings,
) -> None:
    with pytest.raises(DirectoryRefused) as caught:
        Directory(directory_settings).authenticate(TWIN_EMAIL, TWIN_PASSWORD)
    assert caught.value.step == "search"
    assert "more than one" in caught.value.reason or "2 entries" in caught.value.reason


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize(
    "typed",
    [
        "*@example.org",  # unescaped: every address at the domain
        "ada@example.or*",  # unescaped: Ada alone, and her password would let this in
        "a*@example.org",
        "st*@example.org",  # unescaped: the odd address
        "ada@example.org)(mail=*",  # unescaped: a broken or widened filter
        "*)(uid=*",
        "ada@example.org\\",  # a lone backslash would break the filter's syntax
        "\\61da@example.org",  # unescaped: \61 is 'a', so "ada@example.org"
    ],
)
def test_filter_characters_in_the_email_match_only_themselves(
    directory_settings: DirectorySettings, typed: str
) -> None:
    steps = _steps(directory_settings, typed, ADA.password)
    if steps[-1].step == "input":  # not an email at all: refused before any search
        assert steps[-1].status == "refused"
        return
    assert "found 0 entries" in _search_step(steps).detail, steps
    assert steps[-1].status == "refused"
    with pytest.raises(DirectoryRefused):
        Directory(directory_settings).authenticate(typed, ADA.password)


@pytest.mark.timeout(60, method="thread")
def test_an_address_made_of_filter_characters_finds_exactly_its_own_entry(
    directory_settings: DirectorySettings,
) -> None:
    assert "*" in ODD.email and "(" in ODD.email and ")" in ODD.email and "\\" in ODD.email
    steps = _steps(directory_settings, ODD.email, ODD.password)
    assert "found 1 entry" in _search_step(steps).detail
    person = Directory(directory_settings).authenticate(ODD.email, ODD.password)
    assert person.dn == ODD.dn


@pytest.mark.timeout(60, method="thread")
def test_continuation_references_next_to_the_entry_are_not_entries(
    directory_settings: DirectorySettings,
) -> None:
    """slapd returns a search reference for ou=partner with every subtree search of ou=people."""
    steps = _steps(directory_settings, ADA.email, ADA.password)
    assert "found 1 entry" in _search_step(steps).detail and steps[-1].ok


@pytest.mark.timeout(60, method="thread")
def test_a_filter_may_use_the_email_several_times(directory_settings: DirectorySettings) -> None:
    from dataclasses import replace

    settings = replace(
        directory_settings,
        user_filter="(&(objectClass=inetOrgPerson)(|(uid={email})(mail={email})))",
    )
    assert Directory(settings).authenticate(ADA.email, ADA.password).dn == ADA.dn


@pytest.mark.timeout(60, method="thread")
def test_an_empty_password_is_refused_before_anything_reaches_the_server(
    slapd_server: SlapdServer, directory_settings: DirectorySettings
) -> None:
    before = slapd_server.log_size()
    with pytest.raises(DirectoryRefused) as caught:
        Directory(directory_settings).authenticate(ADA.email, "")
    assert caught.value.step == "input"
    with pytest.raises(DirectoryRefused):  # nor an absurdly long one
        Directory(directory_settings).authenticate(ADA.email, "x" * 100_000)
    # Proof that the check can see a connection: the next call makes one.
    Directory(directory_settings).authenticate(ADA.email, ADA.password)
    lines = slapd_server.stats_lines(before)
    accepted = [line for line in lines if " ACCEPT " in line]
    assert len(accepted) == 2, lines  # the successful sign-in's search and bind, nothing else


def _readme_active_directory_filter() -> str:
    """user_filter from the README's Active Directory example."""
    readme = (REPO / "README.md").read_text()
    example = readme[readme.index("**Active Directory**") :]
    line = next(li for li in example.splitlines() if li.startswith("user_filter = "))
    return line.split("=", 1)[1].strip().strip('"')


@pytest.mark.timeout(60, method="thread")
def test_the_readmes_active_directory_filter_on_ad_shaped_entries(
    directory_settings: DirectorySettings,
) -> None:
    """userPrincipalName or mail, never a disabled account. `(objectCategory=person)` is left
    out: Active Directory rewrites that value to a schema DN, which no other server does."""
    from dataclasses import replace

    readme_filter = _readme_active_directory_filter()
    assert "(objectCategory=person)" in readme_filter
    settings = replace(
        directory_settings, user_filter=readme_filter.replace("(objectCategory=person)", "")
    )
    directory = Directory(settings)
    assert directory.authenticate(AD_USER.email, AD_USER.password).dn == AD_USER.dn
    assert directory.authenticate(AD_USER_MAIL, AD_USER.password).dn == AD_USER.dn
    for email, password in ((AD_DISABLED.email, AD_DISABLED.password),
                            (ADA.email, ADA.password)):  # not an AD 'user' entry
        steps = _steps(settings, email, password)
        assert "found 0 entries" in _search_step(steps).detail, steps


# ------------------------------------------------------------------------------- a group
@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("group", [GROUP_DN, UNIQUE_GROUP_DN], ids=["member", "uniqueMember"])
def test_with_a_group_only_members_may_sign_in(
    directory_settings: DirectorySettings, group: str
) -> None:
    from dataclasses import replace

    settings = replace(directory_settings, group_dn=group)
    assert Directory(settings).authenticate(ADA.email, ADA.password).dn == ADA.dn
    with pytest.raises(DirectoryRefused) as caught:
        Directory(settings).authenticate(GRACE.email, GRACE.password)
    assert caught.value.step == "group"
    # Without the group Grace's password is fine: the refusal above is the group's.
    assert Directory(directory_settings).authenticate(GRACE.email, GRACE.password).dn == GRACE.dn


@pytest.mark.timeout(60, method="thread")
def test_a_group_that_does_not_exist_is_a_configuration_problem(
    directory_settings: DirectorySettings,
) -> None:
    from dataclasses import replace

    settings = replace(directory_settings, group_dn=f"cn=nope,ou=groups,{PEOPLE_DN}")
    with pytest.raises(DirectoryUnavailable) as caught:
        Directory(settings).authenticate(ADA.email, ADA.password)
    assert caught.value.step == "group"


# ------------------------------------------------------------------------------- search account
@pytest.mark.timeout(60, method="thread")
def test_a_search_account_reads_its_password_from_a_file(
    slapd_server: SlapdServer, tmp_path: Path
) -> None:
    secret = tmp_path / "bind.secret"
    secret.write_text(READER_PASSWORD + "\n")
    settings = slapd_server.settings(bind_dn=READER_DN, bind_password_file="bind.secret")
    directory = Directory(settings, base_dir=tmp_path)
    assert directory.authenticate(ADA.email, ADA.password).dn == ADA.dn
    steps = list(directory.diagnose(ADA.email, ADA.password))
    assert any(s.step == "search-bind" and READER_DN in s.detail for s in steps)

    secret.write_text("a wrong one\n")  # read at each use: a rotated password counts at once
    with pytest.raises(DirectoryUnavailable) as caught:
        directory.authenticate(ADA.email, ADA.password)
    assert caught.value.step == "search-bind" and "a wrong one" not in caught.value.reason

    secret.write_text("\n")  # empty: would be an unauthenticated bind, so never sent
    with pytest.raises(DirectoryUnavailable) as caught:
        directory.authenticate(ADA.email, ADA.password)
    assert "empty" in caught.value.reason

    secret.unlink()
    with pytest.raises(DirectoryUnavailable) as caught:
        directory.authenticate(ADA.email, ADA.password)
    assert "bind_password_file" in caught.value.reason


# ------------------------------------------------------------------------------- TLS
@pytest.mark.timeout(60, method="thread")
def test_start_tls_with_the_right_ca_works(slapd_server: SlapdServer) -> None:
    settings = slapd_server.settings(url=(slapd_server.ldap_url,), start_tls=True)
    assert Directory(settings).authenticate(ADA.email, ADA.password).dn == ADA.dn
    steps = _steps(settings, ADA.email, ADA.password)
    assert any(s.step == "tls" and "StartTLS" in s.detail for s in steps)


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_a_certificate_from_another_ca_is_refused_and_nothing_is_sent_in_clear(
    slapd_server: SlapdServer, scheme: str
) -> None:
    url = slapd_server.ldap_url if scheme == "starttls" else slapd_server.ldaps_url
    settings = slapd_server.settings(
        url=(url,), start_tls=scheme == "starttls", ca_file=str(slapd_server.pki.other_ca)
    )
    before = slapd_server.log_size()
    with pytest.raises(DirectoryUnavailable) as caught:
        Directory(settings).authenticate(ADA.email, ADA.password)
    assert str(caught.value) == UNAVAILABLE_TEXT
    assert not isinstance(caught.value, AuthenticationFailed)
    lines = slapd_server.stats_lines(before)
    assert any(" ACCEPT " in line for line in lines), lines  # it did reach the server...
    assert not [line for line in lines if " BIND " in line or " SRCH " in line], lines  # ...only


@pytest.mark.timeout(60, method="thread")
def test_a_certificate_for_another_host_name_is_refused(slapd_server: SlapdServer) -> None:
    # The server's certificate names 127.0.0.1 only; "localhost" is the same machine.
    url = f"ldaps://localhost:{slapd_server.tls_port}/"
    with pytest.raises(DirectoryUnavailable):
        Directory(slapd_server.settings(url=(url,))).authenticate(ADA.email, ADA.password)


# ------------------------------------------------------------------------------- availability
@pytest.mark.timeout(60, method="thread")
def test_fail_over_to_the_second_url_when_the_first_is_dead(slapd_server: SlapdServer) -> None:
    dead = f"ldaps://127.0.0.1:{free_port()}/"
    settings = slapd_server.settings(url=(dead, slapd_server.ldaps_url))
    assert Directory(settings).authenticate(ADA.email, ADA.password).dn == ADA.dn
    steps = _steps(settings, ADA.email, ADA.password)
    first = steps[0]
    assert first.step == "connect" and first.status == "unavailable" and dead in first.detail
    assert any(s.step == "connect" and s.ok and slapd_server.ldaps_url in s.detail for s in steps)
    # A wrong password is the directory's answer, never retried elsewhere.
    with pytest.raises(DirectoryRefused):
        Directory(settings).authenticate(ADA.email, "wrong")


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("scheme", ["ldaps", "starttls"])
def test_a_silent_server_times_out_and_the_next_one_answers(
    slapd_server: SlapdServer, black_hole: int, scheme: str
) -> None:
    """A server that accepts the connection and never answers (the TLS handshake included)."""
    if scheme == "ldaps":
        urls = (f"ldaps://127.0.0.1:{black_hole}/", slapd_server.ldaps_url)
    else:
        urls = (f"ldap://127.0.0.1:{black_hole}/", slapd_server.ldap_url)
    settings = slapd_server.settings(url=urls, start_tls=scheme == "starttls", timeout=1)
    assert Directory(settings).authenticate(ADA.email, ADA.password).dn == ADA.dn
    alone = slapd_server.settings(url=urls[:1], start_tls=scheme == "starttls", timeout=1)
    with pytest.raises(DirectoryUnavailable) as caught:
        Directory(alone).authenticate(ADA.email, ADA.password)
    assert str(caught.value) == UNAVAILABLE_TEXT


@pytest.mark.timeout(60, method="thread")
def test_no_server_at_all_is_unavailable_never_refused(slapd_server: SlapdServer) -> None:
    urls = (f"ldaps://127.0.0.1:{free_port()}/", f"ldaps://127.0.0.1:{free_port()}/")
    with pytest.raises(DirectoryUnavailable) as caught:
        Directory(slapd_server.settings(url=urls)).authenticate(ADA.email, ADA.password)
    assert all(url in caught.value.reason for url in urls)


@pytest.mark.timeout(60, method="thread")
def test_a_referral_is_not_followed_and_counts_as_unavailable(
    slapd_server: SlapdServer,
) -> None:
    settings = slapd_server.settings(search_base="ou=people,dc=elsewhere,dc=com")
    with pytest.raises(DirectoryUnavailable) as caught:
        Directory(settings).authenticate(ADA.email, ADA.password)
    assert "referral" in caught.value.reason.lower()


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_the_server_stopping_mid_session_is_a_calm_unavailable(
    start_slapd: Callable[[], SlapdServer], how: str
) -> None:
    """Between the search and the password check the only server dies (or stops answering)."""
    server = start_slapd()
    steps = Directory(server.settings(timeout=2)).diagnose(ADA.email, ADA.password)
    seen: list[DiagnosticStep] = []
    for step in steps:
        seen.append(step)
        if step.step == "search":
            server.kill() if how == "killed" else server.freeze()
    assert any(s.step == "search" and s.ok for s in seen), seen
    last = seen[-1]
    assert last.status == "unavailable" and last.step == "bind", seen
    assert not any(s.step == "bind" and s.ok for s in seen)


@pytest.mark.timeout(60, method="thread")
def test_a_frozen_server_does_not_hang_a_sign_in(start_slapd: Callable[[], SlapdServer]) -> None:
    server = start_slapd()
    server.freeze()
    try:
        with pytest.raises(DirectoryUnavailable):
            Directory(server.settings(timeout=1)).authenticate(ADA.email, ADA.password)
    finally:
        server.thaw()
    # Thawed, it answers again: nothing in the kiosk remembered the failure.
    assert Directory(server.settings(timeout=5)).authenticate(ADA.email, ADA.password)


# ------------------------------------------------------------------------------- threads, secrets
@pytest.mark.timeout(120, method="thread")
def test_sign_ins_from_many_threads_each_get_their_own_answer(
    directory_settings: DirectorySettings,
) -> None:
    """The kiosk checks passwords in worker threads; one Directory is shared by all of them."""
    from concurrent.futures import ThreadPoolExecutor

    directory = Directory(directory_settings)
    cases = [(p.email, p.password, p.dn) for p in (ADA, GRACE, ODD)] * 4
    cases += [(p.email, p.password + "x", None) for p in (ADA, GRACE)] * 4

    def attempt(case: tuple[str, str, str | None]) -> tuple[str | None, str | None]:
        email, password, expected = case
        try:
            return directory.authenticate(email, password).dn, expected
        except DirectoryRefused:
            return None, expected

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, cases))
    assert all(got == expected for got, expected in results), results


@pytest.mark.timeout(120, method="thread")
def test_no_password_reaches_a_log_line_or_a_reason(
    slapd_server: SlapdServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    typed = "typed-secret-Zq81"
    bind_secret = "bind-secret-Kp27"
    (tmp_path / "bind.secret").write_text(bind_secret + "\n")
    dead = f"ldaps://127.0.0.1:{free_port()}/"
    reader = {"bind_dn": READER_DN, "bind_password_file": "bind.secret"}
    scenarios = [
        slapd_server.settings(url=(dead, slapd_server.ldaps_url), **reader),
        slapd_server.settings(url=(dead,), **reader),
        slapd_server.settings(ca_file=str(slapd_server.pki.other_ca), **reader),
        slapd_server.settings(group_dn=GROUP_DN, **reader),
    ]
    reasons: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for settings in scenarios:
            directory = Directory(settings, base_dir=tmp_path)
            for email in (ADA.email, GRACE.email, "nobody@example.org"):
                reasons += [step.detail for step in directory.diagnose(email, typed)]
                try:
                    directory.authenticate(email, typed)
                except (DirectoryRefused, DirectoryUnavailable) as exc:
                    reasons += [exc.reason, str(exc)]
    text = "\n".join(reasons + [r.getMessage() for r in caplog.records])
    assert caplog.records and reasons  # the scenarios did log and explain something
    assert typed not in text and bind_secret not in text
