"""TOTP: the RFC vectors prove pyotp, then the kiosk's own window, parsing and replay guard."""

from __future__ import annotations

import base64
import hashlib

import pyotp
import pytest

from kiosk.core import audit, totp
from kiosk.core.service import KioskService
from kiosk.errors import InvalidCodeError
from kiosk.limits import ENTER_CODE_DIGITS_MESSAGE
from kiosk.store.models import Throttle

from .conftest import FakeClock

SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = b"12345678901234567890123456789012"
SEED_SHA512 = b"1234567890" * 6 + b"1234"

RFC6238 = [  # time, SHA1, SHA256, SHA512 (RFC 6238 Appendix B, seeds per the errata)
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


def _b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode()


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_appendix_b_vectors(when: int, sha1: str, sha256: str, sha512: str) -> None:
    for seed, digest, expected in [
        (SEED_SHA1, hashlib.sha1, sha1),
        (SEED_SHA256, hashlib.sha256, sha256),
        (SEED_SHA512, hashlib.sha512, sha512),
    ]:
        otp = pyotp.TOTP(_b32(seed), digits=8, digest=digest, interval=30)
        assert otp.at(when) == expected
        assert otp.verify(expected, for_time=when)


def test_rfc4226_hotp_vectors() -> None:
    hotp = pyotp.HOTP(_b32(SEED_SHA1))
    assert [hotp.at(counter) for counter in range(10)] == RFC4226


def test_kiosk_code_at_step_matches_rfc_sha1_6_digits() -> None:
    # the kiosk uses SHA1, 6 digits, 30 s: the last 6 digits of the 8-digit SHA1 vectors
    for when, sha1, _, _ in RFC6238:
        assert totp.code_at_step(_b32(SEED_SHA1), when // 30) == sha1[-6:]


# ------------------------------------------------------------------------------ the window
SECRET = _b32(SEED_SHA1)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_window_accepts_one_step_either_side(offset: int) -> None:
    clock = FakeClock(1_700_000_015)
    code = totp.code_at_step(SECRET, clock.step + offset)
    assert totp.matching_step(SECRET, code, window=1, clock=clock) == clock.step + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_window_refuses_two_steps_away(offset: int) -> None:
    clock = FakeClock(1_700_000_015)
    code = totp.code_at_step(SECRET, clock.step + offset)
    # make sure the code is not by chance also the code of a step inside the window
    assert code not in {totp.code_at_step(SECRET, clock.step + d) for d in (-1, 0, 1)}
    assert totp.matching_step(SECRET, code, window=1, clock=clock) is None


def test_window_zero_accepts_only_the_current_step() -> None:
    clock = FakeClock(1_700_000_015)
    assert (
        totp.matching_step(SECRET, totp.code_at_step(SECRET, clock.step), window=0, clock=clock)
        == clock.step
    )
    assert (
        totp.matching_step(SECRET, totp.code_at_step(SECRET, clock.step - 1), window=0, clock=clock)
        is None
    )


def test_leading_zeros_are_kept() -> None:
    # RFC 6238 SHA1 at t=1111111109 gives 07081804: 6-digit code "081804"; find a step with a "0"
    step = next(s for s in range(10_000) if totp.code_at_step(SECRET, s).startswith("0"))
    code = totp.code_at_step(SECRET, step)
    assert len(code) == 6 and code[0] == "0"
    assert totp.parse_code(code) == code
    clock = FakeClock(step * 30 + 1)
    assert totp.matching_step(SECRET, totp.parse_code(code), window=1, clock=clock) == step
    # without the zero it is not a code
    with pytest.raises(InvalidCodeError):
        totp.parse_code(code[1:])


# ------------------------------------------------------------------------------ input rules
@pytest.mark.parametrize("raw", ["123456", " 123456 ", "123 456", "1 2 3 4 5 6"])
def test_parse_code_accepts_six_ascii_digits_with_spaces(raw: str) -> None:
    assert totp.parse_code(raw) == "123456"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        "abcdef",
        "１２３４５６",
        "12345６",
        "123\x00456",
        "123456\x00",
        "123-456",
        "+12345",
        "-12345",
        "12345.",
        "١٢٣٤٥٦",
        "123456\n1",
        "1" * 10_000,
        " " * 100 + "123456",
    ],
)
def test_parse_code_refuses_everything_else(raw: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        totp.parse_code(raw)
    assert str(info.value) == ENTER_CODE_DIGITS_MESSAGE  # never echoes what was typed


@pytest.mark.parametrize("raw", ["12345", "12345a", "1234567", "١٢٣٤٥٦", "1" * 10_000])
def test_a_malformed_code_is_refused_before_any_otp_and_not_counted(
    svc: KioskService, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a person relies on: a typo in the code's shape neither costs an attempt nor runs
    the one-time-password computation (no timing to measure, no lock to approach)."""
    svc.accounts.add_user("bob@example.com", "correct horse battery")
    account = svc.factors.check_password("bob@example.com", "correct horse battery", source="t")
    monkeypatch.setattr(
        pyotp.TOTP, "generate_otp", lambda *a: pytest.fail("an OTP was computed")
    )
    for check in (
        lambda: svc.factors.check_code(account, raw, source="t"),
        lambda: svc.factors.check_setup_code(account, SECRET, raw, after_step=None, source="t"),
        lambda: svc.factors.verify_for_external("bob@example.com", raw, source="t"),
    ):
        with pytest.raises(InvalidCodeError):
            check()
    assert Throttle.select().count() == 0
    assert not [e for e in audit.query() if e.event == "sign_in_failed"]


def test_new_secrets_are_160_bits_and_distinct() -> None:
    secrets = {totp.new_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert len(base64.b32decode(secret)) == 20


def test_provisioning_uri_label_and_issuer() -> None:
    uri = totp.provisioning_uri(SECRET, "bob@example.com", "Procore")
    assert uri.startswith("otpauth://totp/Procore:bob%40example.com?")
    assert f"secret={SECRET}" in uri
    assert "issuer=Procore" in uri
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == SECRET and parsed.issuer == "Procore"
    assert parsed.digits == 6 and parsed.interval == 30


def test_secret_grouped_for_display() -> None:
    assert totp.format_secret_for_display("ABCDEFGHIJ") == "ABCD EFGH IJ"
