"""`kiosk cohort handout`: one printed page per person, read back with pypdf.

What people rely on: their page names them, says how to reach the kiosk, carries the pass staff
issued (which then really signs them in) and its expiry, walks through the screens under their
titles, and tells them what the recovery code is for and that staff never ask for codes. What
must never be on paper: a TOTP secret or a recovery code, even of people who enrolled before.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from kiosk.config import Settings
from kiosk.core.cohorts import NewPerson
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.filemodes import write_private_file
from kiosk.handouts import (
    CORE_FONTS,
    FONT_PACKAGE,
    HandoutError,
    HandoutPage,
    build_handout_pages,
    expiry_in_words,
    find_fonts,
    render_handouts,
)
from kiosk.store.models import EnrollmentPass

from .conftest import PASSWORD, SOURCE, Enrolled, FakeClock, enroll

COHORT = "Site visit"
ORG = "Procore"
CONNECT = "ssh enroll@kiosk.example.org"
VALID = timedelta(hours=8)
TITLES = [
    "Sign in",
    "Two-Factor Authentication Required",
    "Select an Authentication Method",
    "Secure your Account",
    "Enter the 6-digit code",
    "Save Your Recovery Code",
    "I Have Securely Saved This Code",
]
NEVER_ASK = "IT staff will never ask you for a code from your app or for your recovery code."

needs_dejavu = pytest.mark.skipif(
    not find_fonts().unicode, reason=f"{FONT_PACKAGE} is not installed (tasks.py installs it)"
)


@pytest.fixture
def svc(sqlite_settings: Settings) -> Iterator[KioskService]:
    service = KioskService.open(sqlite_settings, clock=FakeClock())
    yield service
    service.close()


def _texts(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace made single spaces (lines wrap anywhere)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def _secrets_of(who: Enrolled) -> list[str]:
    """Every way a secret or recovery code could be written out."""
    secret = who.secret.upper()
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    code = who.recovery_code
    return [secret, grouped, code, code.replace("-", ""), code.replace("-", " ")]


@pytest.fixture
def cohort(svc: KioskService) -> dict[str, Enrolled]:
    """José and Łukasz have no password yet (made by the cohort); Zoë has one. Ana enrolled
    (no page for her); Ben enrolled, then IT reset his authenticator (he starts again); Cam is
    mid-setup (a secret exists in the kiosk's memory). Returns what Ana, Ben and Cam hold."""
    svc.accounts.add_user("zoe@example.com", PASSWORD)
    ana = enroll(svc, "ana@example.com")
    ben = enroll(svc, "ben@example.com")
    svc.accounts.reset_mfa("ben@example.com", source="staff:it-alice")
    svc.accounts.add_user("cam@example.com", PASSWORD)
    flow = AuthFlow(svc, SOURCE)
    assert flow.submit_password("cam@example.com", PASSWORD) == Step.MFA_REQUIRED
    flow.start_setup()
    pending = flow.choose_method(Method.AUTHENTICATOR_APP)
    cam = Enrolled("cam@example.com", PASSWORD, pending.secret, "NONE0-NONE0")
    svc.cohorts.create(
        COHORT,
        [
            NewPerson("jose@example.com", "José Núñez"),
            NewPerson("zoe@example.com", "Zoë Ångström"),
            NewPerson("lukasz@example.com", "Łukasz Żółć"),
            NewPerson("ana@example.com", "Ana Souza"),
            NewPerson("ben@example.com", "Ben Okafor"),
            NewPerson("cam@example.com", "Cam Lee"),
        ],
        staff="it-alice",
    )
    return {"ana": ana, "ben": ben, "cam": cam}


@needs_dejavu
def test_each_page_holds_the_person_the_pass_the_steps_and_no_secret(
    svc: KioskService, cohort: dict[str, Enrolled]
) -> None:
    pages = build_handout_pages(svc, COHORT, with_pass=True, valid=VALID, staff="it-alice")
    # Everyone not enrolled, by email; Ana (enrolled) gets no page and no pass.
    assert [p.email for p in pages] == [
        "ben@example.com",
        "cam@example.com",
        "jose@example.com",
        "lukasz@example.com",
        "zoe@example.com",
    ]
    assert EnrollmentPass.select().count() == 5
    pdf = render_handouts(pages, organization=ORG, connect=CONNECT)
    texts = _texts(pdf)
    assert len(texts) == len(pages)  # one page per person
    for page, text in zip(pages, texts, strict=True):
        assert page.pass_text is not None and page.pass_expires_at is not None
        assert text.startswith(ORG)
        assert page.name is not None and page.name in text and page.email in text
        assert CONNECT in text
        assert page.pass_text in text
        assert f"Valid until {expiry_in_words(page.pass_expires_at)}." in text
        positions = [text.index(title) for title in TITLES]
        assert positions == sorted(positions), "the steps are in the kiosk's order"
        assert ("Create Your Password" in text) == page.needs_password
        assert "inside the app" in text and "lost" in text and "works once" in text
        assert NEVER_ASK in text
        for other in pages:
            if other is not page:
                assert other.email not in text and other.pass_text not in text
    by_email = {p.email: p for p in pages}
    assert by_email["jose@example.com"].needs_password
    assert by_email["lukasz@example.com"].needs_password
    assert not by_email["zoe@example.com"].needs_password
    assert not by_email["ben@example.com"].needs_password

    everything = " ".join(texts) + str(PdfReader(io.BytesIO(pdf)).metadata)
    for who in cohort.values():
        assert len(who.secret) >= 16  # real secrets: the check below means something
        for secret in _secrets_of(who):
            assert secret not in everything

    # The printed pass is the one the kiosk takes: José signs in with it and creates a password.
    flow = AuthFlow(svc, SOURCE)
    jose = by_email["jose@example.com"]
    assert jose.pass_text is not None
    assert flow.submit_password(jose.email, jose.pass_text) == Step.CREATE_PASSWORD


@needs_dejavu
def test_without_passes_the_pages_say_staff_will_give_one(
    svc: KioskService, cohort: dict[str, Enrolled]
) -> None:
    pages = build_handout_pages(svc, COHORT, with_pass=False, valid=VALID, staff="it-alice")
    assert EnrollmentPass.select().count() == 0
    assert all(p.pass_text is None and p.pass_expires_at is None for p in pages)
    texts = dict(
        zip(
            [p.email for p in pages],
            _texts(render_handouts(pages, organization=ORG, connect="Room 4.12, second floor")),
            strict=True,
        )
    )
    assert "Room 4.12, second floor" in texts["zoe@example.com"]
    assert "Your one-time enrollment pass" not in texts["zoe@example.com"]
    assert "your password, then choose Continue" in texts["zoe@example.com"]
    assert "enrollment pass IT staff give you" in texts["jose@example.com"]
    assert "Create Your Password" in texts["jose@example.com"]


@needs_dejavu
def test_unicode_names_print_and_read_back() -> None:
    names = ["José Núñez", "Zoë", "Łukasz Żółć", "Ørjan Ødegård", "Αλέξανδρος", "Дмитрий"]
    decomposed = "Jose\u0301"  # typed with a combining accent: printed as José
    pages = [HandoutPage(name, f"p{n}@example.com") for n, name in enumerate(names)]
    pages.append(HandoutPage(decomposed, "jd@example.com"))
    texts = _texts(render_handouts(pages, organization="Café Ñandú", connect=""))
    for name, text in zip(names, texts, strict=False):
        assert name in text
    assert "José" in texts[-1]
    assert all(text.startswith("Café Ñandú") for text in texts)
    assert "Ask IT staff where the enrollment kiosk is" in texts[0]  # no connect configured


def test_core_fonts_print_latin1_and_refuse_other_names_before_any_pass(
    svc: KioskService, cohort: dict[str, Enrolled]
) -> None:
    latin = [HandoutPage("José Núñez", "jose@example.com"), HandoutPage("Zoë", "zoe@example.com")]
    texts = _texts(render_handouts(latin, organization=ORG, connect=CONNECT, fonts=CORE_FONTS))
    assert "José Núñez" in texts[0] and "Zoë" in texts[1]
    with pytest.raises(HandoutError) as refused:
        render_handouts(
            [HandoutPage("Łukasz Żółć", "lukasz@example.com")],
            organization=ORG,
            connect=CONNECT,
            fonts=CORE_FONTS,
        )
    assert "lukasz@example.com" in str(refused.value) and FONT_PACKAGE in str(refused.value)
    # From a cohort: refused before a single pass is issued (no live pass withdrawn either).
    with pytest.raises(HandoutError):
        build_handout_pages(
            svc, COHORT, with_pass=True, valid=VALID, staff="it-alice", fonts=CORE_FONTS
        )
    assert EnrollmentPass.select().count() == 0


@pytest.mark.parametrize("fonts", ["dejavu", "core"])
def test_a_long_name_and_connect_line_still_fit_one_page(fonts: str) -> None:
    chosen = find_fonts() if fonts == "dejavu" else CORE_FONTS
    if fonts == "dejavu" and not chosen.unicode:
        pytest.skip(f"{FONT_PACKAGE} is not installed")
    long_page = HandoutPage(
        "W" * 128,
        "w" * 60 + "@example.com",
        pass_text="7KQ2M-XR9TD",
        pass_expires_at=datetime(2030, 3, 4, 17, 0),
        needs_password=True,
    )
    pages = [long_page, HandoutPage("Short", "s@example.com"), long_page]
    pdf = render_handouts(pages, organization="W" * 64, connect="ssh " + "W" * 196, fonts=chosen)
    texts = _texts(pdf)
    assert len(texts) == 3
    assert NEVER_ASK in " ".join(texts[0].split()) and "Short" in texts[1]


@needs_dejavu
def test_metadata_names_the_handouts_and_kiosk() -> None:
    pdf = render_handouts([HandoutPage("Zoë", "zoe@example.com")], organization=ORG, connect="")
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    assert metadata.title == "Procore: two-factor sign-in handouts"
    assert metadata.creator == "kiosk"


def test_the_pass_stays_out_of_the_repr() -> None:
    page = HandoutPage("Zoë", "zoe@example.com", pass_text="7KQ2M-XR9TD")
    assert "7KQ2M" not in repr(page) and "zoe@example.com" in repr(page)


def test_expiry_reads_in_plain_words() -> None:
    assert expiry_in_words(datetime(2030, 3, 4, 17, 5)) == "Monday 4 March 2030 at 17:05 UTC"


def test_the_pdf_is_written_for_this_account_only(tmp_path: Path) -> None:
    target = tmp_path / "handouts.pdf"
    old_umask = os.umask(0)
    try:
        write_private_file(target, b"%PDF-1.4 first")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert target.read_bytes() == b"%PDF-1.4 first"
        target.chmod(0o644)  # an older copy others could read is replaced, not reused
        write_private_file(target, b"%PDF-1.4 second")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert target.read_bytes() == b"%PDF-1.4 second"
        elsewhere = tmp_path / "elsewhere.pdf"
        elsewhere.write_bytes(b"keep")
        link = tmp_path / "link.pdf"
        link.symlink_to(elsewhere)
        write_private_file(link, b"new")  # the link is replaced, its target left alone
        assert elsewhere.read_bytes() == b"keep" and not link.is_symlink()
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "elsewhere.pdf",
        "handouts.pdf",
        "link.pdf",
    ]  # no temporary file left behind
