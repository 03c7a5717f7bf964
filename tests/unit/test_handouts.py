"""`kiosk cohort handout`: one printed page per person, read back with pypdf.

What people rely on: their page names them, says how to reach the kiosk, carries the pass staff
issued (which then really signs them in) and its expiry, walks through the screens under their
titles, and tells them what the recovery code is for and that staff never ask for codes. What
must never be on paper: a TOTP secret or a recovery code, even of people who enrolled before.
In Spanish or French the page says all of it in that language, under the very titles the
kiosk's screens show in it, and still fits one sheet.
"""

from __future__ import annotations

import gettext
import io
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from babel.dates import format_date
from pypdf import PdfReader

from kiosk import handouts
from kiosk.config import Settings
from kiosk.core.cohorts import NewPerson
from kiosk.core.flow import AuthFlow, Method, Step
from kiosk.core.service import KioskService
from kiosk.filemodes import write_private_file
from kiosk.handouts import (
    CORE_FONTS,
    FONT_PACKAGE,
    NEVER_ASK_WORDS,
    HandoutError,
    HandoutPage,
    build_handout_pages,
    find_fonts,
    render_handouts,
    valid_until,
)
from kiosk.i18n import DOMAIN, LOCALE_DIR, current_language, set_language
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
HEADLINE = "Setting up two-factor sign-in at the enrollment kiosk"

needs_dejavu = pytest.mark.skipif(
    not find_fonts().unicode, reason=f"{FONT_PACKAGE} is not installed (tasks.py installs it)"
)


@pytest.fixture
def svc(sqlite_settings: Settings) -> Iterator[KioskService]:
    service = KioskService.open(sqlite_settings, clock=FakeClock())
    yield service
    service.close()


def _words(text: str) -> str:
    """Runs of whitespace (no-break spaces too) made single spaces."""
    return " ".join(text.split())


def _texts(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace made single spaces (lines wrap anywhere)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [_words(page.extract_text()) for page in reader.pages]


def _in(language: str, moment: datetime) -> str:
    """`valid_until(moment)` as `language` says it (the process's language put back after)."""
    previous = current_language()
    set_language(language)
    try:
        return valid_until(moment)
    finally:
        set_language(previous)


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
        assert _words(_in("en", page.pass_expires_at)) in text
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


@pytest.mark.parametrize("language", ["es", "fr"])
@needs_dejavu
def test_a_page_in_spanish_or_french_reads_as_the_kiosk_does(
    svc: KioskService, cohort: dict[str, Enrolled], language: str
) -> None:
    """Every word in the language asked; the titles are the screens' own, translated exactly as
    the catalog translates them for the kiosk."""
    tr = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language]).gettext
    pages = build_handout_pages(svc, COHORT, with_pass=True, valid=VALID, staff="it-alice")
    pdf = render_handouts(pages, organization=ORG, connect=CONNECT, language=language)
    assert current_language() == "en"  # the process's language is put back
    texts = _texts(pdf)
    assert len(texts) == len(pages)
    for page, text in zip(pages, texts, strict=True):
        assert page.pass_text is not None and page.pass_expires_at is not None
        assert page.name is not None and page.name in text and page.email in text
        assert page.pass_text in text and CONNECT in text
        titles = TITLES[:1] + (["Create Your Password"] if page.needs_password else []) + TITLES[1:]
        for number, title in enumerate(titles, start=1):
            assert tr(title) != title, f"{language} has no translation of {title!r}"
            assert f"{number}. {_words(tr(title))}" in text
        assert (tr("Create Your Password") in text) == page.needs_password
        # The buttons named in the steps are named as the screens label them.
        for label in ("Continue", "Set Up Now", "Trouble Scanning?", "Password"):
            assert _words(tr(label)) in text
        # The expiry as the language writes dates and times, in UTC, saying so.
        expiry = _words(_in(language, page.pass_expires_at))
        assert expiry in text and "UTC" in expiry
        assert format_date(page.pass_expires_at, format="full", locale=language) in expiry
        assert _words(tr(NEVER_ASK_WORDS)) in text
        # No English sentence left.
        for english in (
            NEVER_ASK,
            HEADLINE,
            "Valid until",
            "then choose Continue",
            "Choose Set Up",
        ):
            assert english not in text
    metadata = PdfReader(io.BytesIO(pdf)).metadata
    assert metadata is not None
    title = tr("{organization}: two-factor sign-in handouts").format(organization=ORG)
    assert metadata.title == title != f"{ORG}: two-factor sign-in handouts"
    assert PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Lang"] == language


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(HandoutError, match="'de'.*en, es, fr"):
        render_handouts(
            [HandoutPage("Zoë", "zoe@example.com")], organization=ORG, connect="", language="de"
        )
    assert current_language() == "en"


@pytest.mark.parametrize("language", ["en", "es", "fr"])
@pytest.mark.parametrize("fonts", ["dejavu", "core"])
def test_the_fullest_page_fits_one_sheet_at_full_size(
    fonts: str, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass, a password to create and a connect line: the longest page, in French longest of
    all, still fits A4 without its words made smaller (and the core fonts print every
    translation: Latin-1 only)."""
    chosen = find_fonts() if fonts == "dejavu" else CORE_FONTS
    if fonts == "dejavu" and not chosen.unicode:
        pytest.skip(f"{FONT_PACKAGE} is not installed")
    monkeypatch.setattr(handouts, "FIT_SCALES", (1.0,))  # overflowing would start a 2nd page
    page = HandoutPage(
        "José Núñez",
        "jose.nunez@example.com",
        pass_text="7KQ2M-XR9TD",
        pass_expires_at=datetime(2030, 3, 4, 17, 0),
        needs_password=True,
    )
    pdf = render_handouts(
        [page], organization=ORG, connect=CONNECT, fonts=chosen, language=language
    )
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


@pytest.mark.parametrize("language", ["en", "es", "fr"])
@pytest.mark.parametrize("fonts", ["dejavu", "core"])
def test_a_long_name_and_connect_line_still_fit_one_page(fonts: str, language: str) -> None:
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
    pdf = render_handouts(
        pages, organization="W" * 64, connect="ssh " + "W" * 196, fonts=chosen, language=language
    )
    texts = _texts(pdf)
    assert len(texts) == 3
    tr = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)
    assert _words(tr.gettext(NEVER_ASK_WORDS)) in texts[0] and "Short" in texts[1]


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


def test_expiry_reads_as_each_language_writes_dates_and_times_in_utc() -> None:
    moment = datetime(2030, 3, 4, 17, 5)  # naive UTC, as the store keeps it
    assert _in("en", moment) == "Valid until Monday, March 4, 2030 at 5:05\u00a0PM UTC."
    for language, date in (("es", "lunes, 4 de marzo de 2030"), ("fr", "lundi 4 mars 2030")):
        said = _in(language, moment)
        assert date in said and "17:05 UTC" in said and "Valid" not in said


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
