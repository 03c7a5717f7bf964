"""The recovery code's form: 125 bits of Crockford base32, forgiving entry, hashed storage."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import recovery
from kiosk.core.service import KioskService
from kiosk.errors import InvalidRecoveryCodeError
from kiosk.store.models import RecoveryCode

from .conftest import enroll

FORM = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}")


def test_alphabet_is_crockford_base32() -> None:
    assert recovery.CROCKFORD_ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(recovery.CROCKFORD_ALPHABET)) == 32


def test_at_least_112_bits() -> None:
    assert recovery.LENGTH * 5 >= 112
    assert recovery.LENGTH == 25


def test_generated_codes_have_the_display_form_and_differ() -> None:
    codes = {recovery.generate() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        shown = recovery.format_for_display(code)
        assert FORM.fullmatch(shown), shown
        assert recovery.parse(shown) == code
    # every character of the alphabet shows up (uniform choice, not a subset)
    assert set("".join(codes)) == set(recovery.CROCKFORD_ALPHABET)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("ABCDE-FGHJK-MNPQR-STVWX-YZ012", "ABCDEFGHJKMNPQRSTVWXYZ012"),
        ("abcde fghjk mnpqr stvwx yz012", "ABCDEFGHJKMNPQRSTVWXYZ012"),
        ("abcdefghjkmnpqrstvwxyz012", "ABCDEFGHJKMNPQRSTVWXYZ012"),
        ("  AbCdE--FgHjK -MNPQR-\tSTVWX-yz012 ", "ABCDEFGHJKMNPQRSTVWXYZ012"),
        ("OOOOO-IIIII-LLLLL-ooooo-iilll", "0000011111111110000011111"),
    ],
)
def test_parse_ignores_case_spaces_hyphens_and_maps_lookalikes(typed: str, canonical: str) -> None:
    assert recovery.parse(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCDE",
        "ABCDE-FGHJK-MNPQR-STVWX-YZ01",
        "ABCDE-FGHJK-MNPQR-STVWX-YZ0123",
        "ABCDE-FGHJK-MNPQR-STVWX-YZ01U",
        "ABCDE-FGHJK-MNPQR-STVWX-YZ01!",
        "ＡＢＣＤＥ" * 5,
        "ABCDE\x00FGHJK-MNPQR-STVWX-YZ012",
        "A" * 10_000,
    ],
)
def test_parse_refuses_other_input(typed: str) -> None:
    with pytest.raises(InvalidRecoveryCodeError) as info:
        recovery.parse(typed)
    assert typed.strip() == "" or typed not in str(info.value)


def test_stored_only_as_argon2id_hash(svc: KioskService) -> None:
    who = enroll(svc, "bob@example.com")
    rows = list(RecoveryCode.select())
    assert len(rows) == 1
    assert rows[0].code_hash.startswith("$argon2id$")
    assert recovery.parse(who.recovery_code) not in rows[0].code_hash
    assert svc.ctx.hasher.verify(rows[0].code_hash, recovery.parse(who.recovery_code))


def test_issuing_a_new_code_invalidates_the_old(svc: KioskService) -> None:
    """Enrolling again (after an admin reset here) leaves exactly one active code: the new one."""
    first = enroll(svc, "bob@example.com")
    svc.accounts.reset_mfa(first.email)
    second = enroll(svc, "bob@example.com", add=False)
    rows = list(RecoveryCode.select())
    assert len(rows) == 1
    assert not svc.ctx.hasher.verify(rows[0].code_hash, recovery.parse(first.recovery_code))
    assert svc.ctx.hasher.verify(rows[0].code_hash, recovery.parse(second.recovery_code))


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_any_messy_spelling_of_a_code_parses_to_it(data: st.DataObject) -> None:
    code = data.draw(st.text(alphabet=recovery.CROCKFORD_ALPHABET, min_size=25, max_size=25))
    typed = ""
    for ch in recovery.format_for_display(code):
        if ch == "-":
            ch = data.draw(st.sampled_from(["-", " ", "", "--", " - "]))
        elif ch == "0":
            ch = data.draw(st.sampled_from(["0", "O", "o"]))
        elif ch == "1":
            ch = data.draw(st.sampled_from(["1", "I", "i", "L", "l"]))
        elif data.draw(st.booleans()):
            ch = ch.lower()
        typed += ch
    assert recovery.parse(typed) == code
