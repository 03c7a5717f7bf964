"""Onboarding handouts: one PDF page per person (`kiosk cohort handout`).

A page says how to reach the kiosk, who it is for, the person's enrollment pass when staff issued
one, and the kiosk's steps under the titles the screens show. It is written in one of the kiosk's
languages (`[kiosk] language` unless staff choose another): the same catalogs as the screens, so
a step's title reads exactly as that screen's title, and the pass's expiry is written as the
language writes dates and times (in UTC, saying so). It never holds a TOTP secret or a
recovery code: there is none to print (they exist only while a person enrolls), and no field
here could carry one.

Names come from staff's CSV and may be anything printable: the page is set in DejaVu (a Unicode
TrueType font, Debian's `fonts-dejavu-core`) found on the system, so nothing binary ships with
the package. Without it the PDF core fonts (Helvetica, Courier) are used, which print Latin-1
only: a name they cannot print is refused before any pass is issued, naming the person and the
package to install, rather than printed wrong.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from kiosk.core.steps import Stage
from kiosk.errors import KioskError
from kiosk.i18n import LANGUAGES, N_, _, current_language, format_time, set_language

if TYPE_CHECKING:
    from fpdf import FPDF

    from kiosk.core.service import KioskService

# Where Linux distributions put DejaVu: Debian/Ubuntu, Fedora (old and new), Arch, local.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu-sans-mono-fonts"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
FONT_FILES = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
}
FONT_PACKAGE = "fonts-dejavu-core"


class HandoutError(KioskError):
    """A handout that cannot be made as asked (a name the available fonts cannot print, a
    language the kiosk does not speak)."""


def check_language(language: str) -> None:
    """Refuse a language the kiosk has no catalog for (before any pass is issued)."""
    if language not in LANGUAGES:
        raise HandoutError(
            f"unknown language {language!r} for the handout: choose one of {', '.join(LANGUAGES)}"
        )


@dataclass(frozen=True)
class HandoutPage:
    """What one person's page says. `pass_text` is left out of the repr (it is a secret)."""

    name: str | None
    email: str
    pass_text: str | None = field(default=None, repr=False)
    pass_expires_at: datetime | None = None  # naive UTC, as the store keeps it
    # The account has no password yet: after signing in with a pass, Create Your Password.
    needs_password: bool = False


@dataclass(frozen=True)
class HandoutFonts:
    """The TrueType files to set pages in; all None means the PDF core fonts (Latin-1 only)."""

    regular: Path | None = None
    bold: Path | None = None
    mono: Path | None = None

    @property
    def unicode(self) -> bool:
        return self.regular is not None and self.bold is not None and self.mono is not None

    def missing(self, text: str) -> str:
        """The characters of `text` these fonts cannot print, each once, in order."""
        if self.unicode:
            assert self.regular is not None and self.mono is not None
            known = _codepoints(self.regular) & _codepoints(self.mono)
            bad = [ch for ch in text if ord(ch) not in known and not ch.isspace()]
        else:
            bad = [ch for ch in text if ord(ch) > 0xFF]
        return "".join(dict.fromkeys(bad))


CORE_FONTS = HandoutFonts()


def find_fonts(dirs: Iterable[Path] = FONT_DIRS) -> HandoutFonts:
    """DejaVu Sans, Sans Bold and Sans Mono from the first folder holding each, else core."""
    found: dict[str, Path] = {}
    for role, filename in FONT_FILES.items():
        for folder in dirs:
            if (folder / filename).is_file():
                found[role] = folder / filename
                break
    if len(found) != len(FONT_FILES):
        return CORE_FONTS
    return HandoutFonts(**found)


@cache
def _codepoints(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # fpdf2's own dependency

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


# ---------------------------------------------------------------------- the words
# Every sentence below is looked up when a page is drawn, in the language render_handouts sets.
def valid_until(moment: datetime) -> str:
    """`Valid until Monday, March 4, 2030 at 5:05 PM UTC.` in the current language: the date
    and time as it writes them (Babel), in UTC. `moment` is naive UTC, as the store keeps it."""
    from babel.dates import format_date

    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    date = format_date(moment.date(), format="full", locale=current_language())
    # CLDR puts U+202F before AM/PM, which the PDF core fonts lack: a no-break space prints.
    time = format_time(moment).replace("\u202f", "\u00a0")
    return _("Valid until {date} at {time} UTC.").format(date=date, time=time)


def _clean(text: str) -> str:
    """One line, composed (José typed as J-o-s-e-accent prints as José), nothing invisible."""
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    return "".join(ch for ch in text if ch.isprintable())


def _how_to_reach(connect: str) -> tuple[str | None, str]:
    """(the line to show in a fixed-width font, or None; what to do with it)."""
    connect = _clean(connect)
    if not connect:
        return None, _(
            "Ask IT staff where the enrollment kiosk is: a terminal in the room, or how to "
            "connect to it from your own computer."
        )
    lowered = connect.lower()
    if lowered.startswith(("ssh ", "mosh ", "telnet ")):
        return connect, _("Open a terminal, type this line and press Enter:")
    if lowered.startswith(("http://", "https://")):
        return connect, _("Open this address in a web browser:")
    return connect, _("Where to find the enrollment kiosk:")


def _labels() -> dict[str, str]:
    """The buttons and fields the steps name, as the screens label them in this language."""
    return {
        "continue": _("Continue"),
        "password": _("Password"),
        "set_up_now": _("Set Up Now"),
        "authenticator_app": _("Authenticator App"),
        "trouble_scanning": _("Trouble Scanning?"),
    }


def _steps(page: HandoutPage) -> list[tuple[str, str]]:
    """The kiosk's steps as (the title its screen shows, what to do there), in the current
    language: the titles are the screens' own messages, so they share one translation."""
    labels = _labels()
    if page.pass_text is not None:
        sign_in = _(
            "Enter your email address, and in the {password} field the enrollment pass printed "
            "above (capitals, spaces and the dash do not matter). Then choose {continue}."
        )
    elif page.needs_password:
        sign_in = _(
            "Enter your email address, and in the {password} field the one-time enrollment "
            "pass IT staff give you. Then choose {continue}."
        )
    else:
        sign_in = _("Enter your email address and your password, then choose {continue}.")
    steps = [(_("Sign in"), sign_in.format(**labels))]
    if page.needs_password:
        steps.append(
            (
                _("Create Your Password"),
                _(
                    "You have no password yet, so the kiosk asks you to choose one and type it "
                    "twice; the screen shows what a password needs. This is your password from "
                    "now on: the pass stops working once you finish."
                ),
            )
        )
    steps += [
        (_("Two-Factor Authentication Required"), _("Choose {set_up_now}.").format(**labels)),
        (
            _("Select an Authentication Method"),
            _(
                "{authenticator_app} is selected: choose {continue}. Have an authenticator app "
                "on your phone beforehand (Google Authenticator, Microsoft Authenticator or any "
                "other TOTP app)."
            ).format(**labels),
        ),
        (
            _("Secure your Account"),
            _(
                "Open the authenticator app, add an account, and scan the QR code with the "
                "scanner inside the app (not the phone's camera app). If it will not scan, "
                "choose {trouble_scanning} and type the key into the app instead. Then choose "
                "{continue}."
            ).format(**labels),
        ),
        (
            _("Enter the 6-digit code"),
            # The screen's own explanation (kiosk/ui/screens/enter_setup_code.py).
            _(
                "Enter the 6-digit code your authenticator app now shows for this account, then "
                "choose Continue. The code changes every 30 seconds; any current one works."
            ),
        ),
        (
            _("Save Your Recovery Code"),
            _(
                "The kiosk shows your recovery code once. Copy it, or write it down, and keep "
                "it safe (see below)."
            ),
        ),
        (
            _("I Have Securely Saved This Code"),
            _(
                "Tick this box once the code is saved, then choose {continue}. You are done: "
                "from now on you sign in with your password and a code from the app."
            ).format(**labels),
        ),
    ]
    return steps


RECOVERY_CODE_WORDS = N_(
    "If your phone is lost, broken or replaced, the recovery code lets you set up the "
    "authenticator on a new phone. It works once; you then save a new one. Keep it somewhere "
    "safe that is not your phone: a password manager, or on paper in a safe place."
)
NEVER_ASK_WORDS = N_(
    "IT staff will never ask you for a code from your app or for your recovery code. Do not "
    "give them to anyone, even someone who says they are from IT."
)
PASS_PRIVATE_WORDS = N_(
    "Keep this sheet to yourself until you have used the pass: until then it lets anyone who "
    "has it set up sign-in for your account. Afterwards it is of no use to anyone."
)


# ---------------------------------------------------------------------- the PDF
# How much smaller a page's words may be made to keep it on one sheet (long names, long lines).
FIT_SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


class _Page:
    """Draws one person's page; keeps the font choices in one place."""

    def __init__(self, pdf: FPDF, fonts: HandoutFonts) -> None:
        self.pdf = pdf
        if fonts.unicode:
            pdf.add_font("DejaVu", "", fonts.regular)
            pdf.add_font("DejaVu", "B", fonts.bold)
            pdf.add_font("DejaVuMono", "", fonts.mono)
            self.sans, self.mono = "DejaVu", "DejaVuMono"
        else:
            self.sans, self.mono = "Helvetica", "Courier"
        self.scale = 1.0

    def text(self, text: str, size: float, *, bold: bool = False, mono: bool = False) -> None:
        pdf, size = self.pdf, size * self.scale
        pdf.set_font(self.mono if mono else self.sans, "B" if bold and not mono else "", size)
        pdf.multi_cell(0, size * 0.42, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def gap(self, mm: float) -> None:
        self.pdf.ln(mm * self.scale)

    def rule(self) -> None:
        pdf = self.pdf
        pdf.set_draw_color(160, 160, 160)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        self.gap(3)

    def draw(self, page: HandoutPage, organization: str, connect: str) -> None:
        """A new page for `page`, its words made smaller when they would not fit on one (a
        very long name or connect line): one sheet per person, always."""
        pdf = self.pdf
        pdf.add_page()
        for scale in FIT_SCALES:
            self.scale = scale
            with pdf.offset_rendering() as trial:
                self.pdf = cast("FPDF", trial)  # it records every call an FPDF takes
                try:
                    self._content(page, organization, connect)
                finally:
                    self.pdf = pdf
            if not trial.page_break_triggered:
                break
        self._content(page, organization, connect)

    def _content(self, page: HandoutPage, organization: str, connect: str) -> None:
        self.text(_clean(organization) or _("Your organisation"), 20, bold=True)
        self.gap(1)
        self.text(_("Setting up two-factor sign-in at the enrollment kiosk"), 13)
        self.gap(4)
        self.rule()
        self.text(_clean(page.name or page.email), 16, bold=True)
        if page.name:
            self.text(_clean(page.email), 11)
        self.gap(4)

        self.text(_("How to reach the kiosk"), 12, bold=True)
        line, words = _how_to_reach(connect)
        self.text(words, 10)
        if line is not None:
            self.gap(1)
            self.text(line, 12, mono=True)
        self.gap(4)

        if page.pass_text is not None:
            self.text(_("Your one-time enrollment pass"), 12, bold=True)
            self.gap(1)
            self.text(page.pass_text, 30, mono=True)
            if page.pass_expires_at is not None:
                self.text(valid_until(page.pass_expires_at), 10)
            self.text(
                _(
                    "It works once, in place of a password. If it has run out, IT staff can "
                    "give you a new one."
                ),
                10,
            )
            self.gap(4)

        self.rule()
        self.text(_("The steps, as the kiosk shows them"), 12, bold=True)
        self.gap(1)
        for number, (title, words) in enumerate(_steps(page), start=1):
            self.text(f"{number}. {title}", 10, bold=True)
            self.text(words, 9)
            self.gap(1.2)
        self.gap(2)
        self.text(_("What the recovery code is for"), 11, bold=True)
        self.text(_(RECOVERY_CODE_WORDS), 9.5)
        self.gap(3)
        self.text(_(NEVER_ASK_WORDS), 10.5, bold=True)
        if page.pass_text is not None:
            self.gap(2)
            self.text(_(PASS_PRIVATE_WORDS), 9)


def check_printable(
    pages: Iterable[HandoutPage], fonts: HandoutFonts, *, organization: str = "", connect: str = ""
) -> None:
    """Refuse, naming the person, a name or email the fonts cannot print (before any pass)."""
    for what, text in (("[kiosk] organization", organization), ("[onboarding] connect", connect)):
        bad = fonts.missing(_clean(text))
        if bad:
            raise HandoutError(
                f"{what} has characters the PDF fonts available cannot print ({bad!r}): "
                f"install the DejaVu fonts ({FONT_PACKAGE} on Debian and Ubuntu)"
            )
    for page in pages:
        for text in (page.name or "", page.email):
            bad = fonts.missing(_clean(text))
            if bad:
                hint = (
                    f"install the DejaVu fonts ({FONT_PACKAGE} on Debian and Ubuntu) and run again"
                    if not fonts.unicode
                    else "correct the name in the cohort, or leave that person out"
                )
                raise HandoutError(
                    f"the handout for {page.email} cannot print {bad!r} in {text!r} with the "
                    f"fonts available: {hint}"
                )


def render_handouts(
    pages: Sequence[HandoutPage],
    *,
    organization: str,
    connect: str,
    fonts: HandoutFonts | None = None,
    language: str = "en",
) -> bytes:
    """The PDF: one A4 page per person, in the order given, in `language` (a key of
    kiosk.i18n.LANGUAGES). `fonts` defaults to what `find_fonts` finds on this system."""
    from fpdf import FPDF

    check_language(language)
    fonts = find_fonts() if fonts is None else fonts
    check_printable(pages, fonts, organization=organization, connect=connect)
    previous = current_language()
    set_language(language)  # this process's language while the pages are set; restored after
    try:
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_margins(18, 16, 18)
        pdf.set_auto_page_break(True, margin=14)
        org = _clean(organization)
        pdf.set_title(
            _("{organization}: two-factor sign-in handouts").format(organization=org)
            if org
            else _("Two-factor sign-in handouts")
        )
        pdf.set_subject(_("Enrollment at the kiosk"))
        pdf.set_author(org or _("IT staff"))
        pdf.set_creator("kiosk")
        pdf.set_lang(language)
        drawer = _Page(pdf, fonts)
        for page in pages:
            drawer.draw(page, organization, connect)
        return bytes(pdf.output())
    finally:
        set_language(previous)


# ---------------------------------------------------------------------- from a cohort
def build_handout_pages(
    service: KioskService,
    cohort_name: str,
    *,
    with_pass: bool,
    valid: timedelta,
    staff: str,
    fonts: HandoutFonts | None = None,
) -> list[HandoutPage]:
    """One page per person of the cohort not yet enrolled, by email (as `cohort show` lists).

    People already enrolled get no page and no pass: they have nothing to do, and a pass for an
    enrolled account replaces its authenticator, which is for a lost phone, one person at a time
    (`kiosk pass issue`). With `with_pass` each page gets a fresh pass (withdrawing any live
    one), issued only after every name was found printable, so a refused handout withdraws
    nothing.
    """
    people = [
        person
        for person in service.cohorts.people(cohort_name)
        if person.state != Stage.ENROLLED.value
    ]
    pages = [
        HandoutPage(
            name=person.name,
            email=person.email,
            needs_password=not service.accounts.find(person.email).has_password,
        )
        for person in people
    ]
    settings = service.ctx.settings
    check_printable(
        pages,
        find_fonts() if fonts is None else fonts,
        organization=settings.kiosk.organization,
        connect=settings.onboarding.connect,
    )
    if not with_pass:
        return pages
    issued_pages: list[HandoutPage] = []
    for page in pages:
        issued = service.passes.issue(page.email, valid=valid, staff=staff)
        issued_pages.append(
            HandoutPage(
                name=page.name,
                email=page.email,
                pass_text=issued.text,
                pass_expires_at=issued.expires_at,
                needs_password=page.needs_password,
            )
        )
    return issued_pages
