"""Plain mode: the kiosk's flow as plain lines and prompts, for screen readers, braille
displays and serial consoles.

The same `AuthFlow` over the same service as the full-screen app: this module only says each
step in words and reads the answers; whether a password or code is right, and when the account
changes, is decided in the core. One thing at a time, in reading order: the step's title, its
explanation, then one prompt. Nothing is drawn, coloured or moved: no escape sequence is written
(a QR code is drawn with block characters, and only when the person asks for it), except that a
kiosk erases its screen and scrollback between two people (`PlainSession.wipe`).

The calls to the service block (argon2, the database): this is a line program, so "Checking…"
is said first and the person waits, as they would at any other prompt.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from kiosk.core.accounts import POLICY_TEMPLATE
from kiosk.core.flow import AuthFlow
from kiosk.core.steps import Method, Step
from kiosk.errors import KioskError, report_unexpected
from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, _, localized, set_language
from kiosk.limits import CODE_DIGITS, ENTER_CODE_DIGITS_MESSAGE
from kiosk.plain.terminal import HungUp, IdleTimeout, Interrupted, LineTerminal

if TYPE_CHECKING:
    from types import FrameType

    from kiosk.core.flow import ServiceSource

T = TypeVar("T")
IDLE_WARNING_SECONDS = 15  # as the full-screen app: a warning in the last seconds


class _SessionOver(Exception):
    """This person's session ends: ctrl+c over SSH, the idle timeout, or they are done."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused:
    """A flow call said no; its message has been shown."""


REFUSED = _Refused()


def _word(message: str) -> set[str]:
    """The typed forms of a one-word command: the localised word, and the English one."""
    return {_(message).casefold(), message.casefold()}


class PlainSession:
    """One terminal's plain-mode kiosk: `mode` "kiosk" serves person after person, "ssh" one."""

    def __init__(
        self,
        service: ServiceSource,
        term: LineTerminal,
        *,
        mode: str,
        source: str,
        demo_hint: str | None = None,
    ) -> None:
        if mode not in ("kiosk", "ssh"):
            raise ValueError(f"unknown mode {mode!r}")
        self.settings = service.settings
        self.flow = AuthFlow(service, source)
        self.term = term
        self.mode = mode
        self.demo_hint = demo_hint
        self.organization = self.settings.kiosk.organization
        self.idle_timeout = float(self.settings.kiosk.idle_timeout)
        self.signed_in_timeout = float(self.settings.kiosk.signed_in_timeout)
        language = getattr(self.settings.kiosk, "language", DEFAULT_LANGUAGE)
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.crash_reference: str | None = None
        self._person_typed = False  # someone typed an answer: there is something to clear

    # ------------------------------------------------------------------ the session
    def run(self, *, one_person: bool = False) -> None:
        """Serve people until the session ends (ssh: after one; kiosk: never, unless
        `one_person`). Returns when the terminal hangs up."""
        try:
            while True:
                reason = self._one_person()
                if self.mode == "ssh" or one_person or reason == "hung up":
                    return
        finally:
            self.wipe()

    def _one_person(self) -> str:
        """One person from Sign in to the end; returns why it ended. (Keys typed before the
        first prompt are kept: only the end of a person's session discards typed-ahead keys.)"""
        self.flow.reset()
        set_language(self.language)
        self._welcome()
        try:
            while True:
                self._show_step()
        except _SessionOver as over:
            return self._ended(over.reason)
        except HungUp:
            return "hung up"
        except Exception as exc:  # noqa: BLE001 - said calmly, with a reference in the log
            self.crash_reference = report_unexpected(exc)
            self.wipe()
            self._say_crash(self.crash_reference)
            return "crash"

    def _ended(self, reason: str) -> str:
        """Forget the person, then say how the session ended."""
        self.wipe()
        with _suppress_hangup():
            if reason == "idle":
                if self.mode == "ssh":
                    self.term.say(_("Nothing was typed for a while, so this session has ended."))
                else:
                    self.term.say(
                        _("Nothing was typed for a while, so everything you entered has been "
                          "forgotten.")
                    )
            if self.mode == "ssh":
                self.term.say(_("Session ended. Goodbye."))
        return reason

    def wipe(self) -> None:
        """Forget the person: the flow, keys typed ahead, their language; on a kiosk, also
        what the terminal still shows of them.

        The one escape sequence plain mode writes: on a shared kiosk terminal the next person
        could otherwise scroll back to this person's email, setup key (a working second factor
        once enrolled) or recovery code. Over SSH the terminal is the person's own: left as is.
        """
        self.flow.reset()
        self.term.discard_typeahead()
        set_language(self.language)
        if self.mode == "kiosk" and self._person_typed:
            with _suppress_hangup():
                self.term.clear_screen_and_scrollback()
        self._person_typed = False

    def _welcome(self) -> None:
        t = self.term
        t.say()
        t.say(_("{organization} sign-in kiosk, plain text mode.").format(
            organization=self.organization))
        t.say(_("Answer each prompt and press Enter. Type {back} at a prompt to go back a step.")
              .format(back=_("back")))
        if self.mode == "ssh":
            t.say(_("Press ctrl+c at any prompt to end this session."))

    def _say_crash(self, reference: str) -> None:
        with _suppress_hangup():
            self.term.say(
                _("Sorry, the kiosk ran into a problem it didn't expect. You've been signed out "
                  "and nothing more will happen with your details.")
            )
            self.term.say(_("Please start again. If it happens again, tell IT this reference: "
                            "{reference}").format(reference=reference))

    # ------------------------------------------------------------------ helpers
    def _header(self, english_title: str) -> None:
        """The step's title (and the English one for staff, when it is shown translated)."""
        title = _(english_title)
        if title != english_title:
            title = f"{title} ({english_title})"
        progress = self.flow.progress()
        self.term.say()
        if progress is None:
            self.term.line(title)
        else:
            number, total = progress
            self.term.line(
                _("Step {number} of {total}: {title}").format(
                    number=number, total=total, title=title
                )
            )

    def _ask(self, prompt: str, *, secret: bool = False, wait_while_empty: bool = False) -> str:
        """One answer; ctrl+c ends an SSH session and is ignored on a kiosk; the idle timeout
        ends the person's session."""
        while True:
            try:
                return self.term.ask(
                    prompt,
                    secret=secret,
                    timeout=self.idle_timeout,
                    warn_before=min(IDLE_WARNING_SECONDS, self.idle_timeout / 2),
                    warning=self._idle_warning,
                    wait_while_empty=wait_while_empty,
                )
            except Interrupted:
                if self.mode == "ssh":
                    raise _SessionOver("interrupted") from None
            except IdleTimeout:
                raise _SessionOver("idle") from None

    def _idle_warning(self, seconds: int) -> None:
        if self.mode == "ssh":
            text = _("This session ends in {seconds} seconds unless you type something.")
        else:
            text = _("Everything you entered will be forgotten in {seconds} seconds unless you "
                     "type something.")
        self.term.say(text.format(seconds=seconds))

    def _call(self, action: Callable[[], T], busy: str | None = None) -> T | _Refused:
        """Run a flow call; a refusal's one-line message is said and `REFUSED` returned."""
        if busy:
            self.term.line(busy)
        try:
            return action()
        except KioskError as exc:
            self.term.say(localized(exc))
            return REFUSED

    def _back(self) -> None:
        self.flow.back()

    # ------------------------------------------------------------------ the steps
    def _show_step(self) -> None:
        step = self.flow.step
        {
            Step.SIGN_IN: self._sign_in,
            Step.CREATE_PASSWORD: self._create_password,
            Step.MFA_REQUIRED: self._mfa_required,
            Step.SELECT_METHOD: self._select_method,
            Step.SCAN_QR: self._secure_account,
            Step.ENTER_SETUP_CODE: self._enter_setup_code,
            Step.SAVE_RECOVERY_CODE: self._save_recovery_code,
            Step.ENTER_CODE: self._enter_code,
            Step.ENTER_RECOVERY_CODE: self._use_recovery_code,
            Step.SIGNED_IN: self._signed_in,
        }[step]()

    def _sign_in(self) -> None:
        t = self.term
        self._header(N_("Sign in"))
        t.say(
            _("Sign in with your {organization} email and password. After that you'll set up "
              "or use your authenticator app.").format(organization=self.organization)
        )
        if self.demo_hint:
            t.say(self.demo_hint)
        while self.flow.step == Step.SIGN_IN:
            # An untouched kiosk at Sign in has nothing to forget: it waits without a timeout.
            email = self._ask(_("Email: "), wait_while_empty=self.mode == "kiosk").strip()
            self._person_typed = True
            if not email:
                t.say(_("Enter your email address."))
                continue
            t.say(_("Your password is not shown as you type."))
            password = self._ask(_("Password: "), secret=True)
            if not password:
                t.say(_("Enter your password."))
                continue
            self._call(partial(self.flow.submit_password, email, password), _("Checking…"))
            del password

    def _create_password(self) -> None:
        """Signed in with an enrollment pass and no password yet: choose one, typed twice.
        The core checks the policy and that both match; a refusal is one line, then again."""
        t = self.term
        self._header(N_("Create Your Password"))
        t.say(
            _("You signed in with a one-time enrollment pass. Choose the password you'll use "
              "to sign in from now on.")
        )
        t.say(_(POLICY_TEMPLATE).format(count=self.flow.password_min_length))
        t.say(_("Your password is not shown as you type."))
        while self.flow.step == Step.CREATE_PASSWORD:
            password = self._ask(_("New password: "), secret=True)
            if password.strip().casefold() in _word(N_("back")):
                self._back()
                continue
            if not password:
                t.say(_("Enter your new password."))
                continue
            again = self._ask(_("Type it again: "), secret=True)
            self._call(partial(self.flow.create_password, password, again), _("One moment…"))
            del password, again

    def _mfa_required(self) -> None:
        t = self.term
        self._header(N_("Two-Factor Authentication Required"))
        t.say(
            _("{organization} now asks for two things when you sign in: your password "
              "(something you know) and a 6-digit code from an authenticator app on your phone "
              "(something you have). Someone who learns your password still can't sign in as "
              "you.").format(organization=self.organization)
        )
        t.say(
            _("You'll need your phone with an authenticator app installed, such as Google "
              "Authenticator or Microsoft Authenticator. Setting it up takes about two minutes.")
        )
        while self.flow.step == Step.MFA_REQUIRED:
            answer = self._ask(
                _("Press Enter to set up now, or type {back} to sign out: ").format(back=_("back"))
            ).strip().casefold()
            if answer in _word(N_("back")):
                self._back()
            elif not answer:
                self._call(self.flow.start_setup)
            else:
                t.say(_("Press Enter to set up now."))

    def _select_method(self) -> None:
        t = self.term
        self._header(N_("Select an Authentication Method"))
        if self.flow.recovering:
            t.say(
                _("Your recovery code was accepted. Now set up the authenticator app on your "
                  "new phone. Your old phone stops working once you finish.")
            )
        elif self.flow.replaces_authenticator:  # an enrollment pass, phone and code lost
            t.say(
                _("Your enrollment pass was accepted. Now set up the authenticator app on your "
                  "new phone. Your old phone and recovery code stop working once you finish.")
            )
        t.say(_("Choose how you'll prove it's you each time you sign in."))
        t.say(
            _("1. Authenticator App: the app on your phone shows a new 6-digit code every 30 "
              "seconds. It works without a signal or mobile data.")
        )
        while self.flow.step == Step.SELECT_METHOD:
            answer = self._ask(
                _("Press Enter to choose 1, Authenticator App, or type {back}: ").format(
                    back=_("back"))
            ).strip().casefold()
            if answer in _word(N_("back")):
                self._back()
            elif answer in ("", "1"):
                self._call(lambda: self.flow.choose_method(Method.AUTHENTICATOR_APP))
            else:
                t.say(_("Press Enter to choose the authenticator app."))

    def _secure_account(self) -> None:
        t = self.term
        pending = self.flow.pending_secret
        assert pending is not None  # the flow only reaches SCAN_QR with a pending secret
        self._header(N_("Secure your Account"))
        t.say(
            _("In your authenticator app, choose to add an account by entering a setup key, "
              "and type in:")
        )
        t.line(_("Account: {account}").format(account=pending.account_name))
        t.line(_("Issuer: {issuer}").format(issuer=pending.issuer))
        t.line(_("Type: Time-based (TOTP)"))
        t.line(_("Key: {key}").format(key=pending.grouped_key))
        t.say(_("Spaces in the key don't matter."))
        t.say(
            _("If you can see the screen and prefer to scan a QR code, type {qr}. When your app "
              "shows a 6-digit code for this account, press Enter.").format(qr=_("qr"))
        )
        while self.flow.step == Step.SCAN_QR:
            answer = self._ask(
                _("Press Enter to continue, or type {qr} or {back}: ").format(
                    qr=_("qr"), back=_("back"))
            ).strip().casefold()
            if answer in _word(N_("back")):
                self._back()
            elif answer in _word(N_("qr")):
                self._show_qr(pending.uri)
            elif not answer:
                self._call(self.flow.continue_to_code)
            else:
                t.say(_("Press Enter to continue."))

    def _show_qr(self, uri: str) -> None:
        from kiosk.plain.qr import qr_lines

        lines = qr_lines(uri)
        if not lines:
            self.term.say(_("This is too long to show as a QR code. Type the key instead."))
            return
        self.term.say(
            _("Scan this with your authenticator app's built-in scanner, not your phone's "
              "camera:")
        )
        for text in lines:
            self.term.line(text)
        self.term.say(_("If your app can't read this code, type the key instead."))

    def _read_code(self, extra: set[str] | None = None) -> str | None:
        """A 6-digit code, or a command word (returned casefolded); None after a hint."""
        answer = self._ask(_("6-digit code: ")).strip()
        word = answer.casefold()
        if word in _word(N_("back")) or (extra and word in extra):
            return word
        code = answer.replace(" ", "")
        if len(code) != CODE_DIGITS or not code.isdigit():
            self.term.say(_(ENTER_CODE_DIGITS_MESSAGE))
            return None
        return code

    def _enter_setup_code(self) -> None:
        self._header(N_("Enter the 6-digit code"))
        self.term.say(
            _("Enter the 6-digit code your authenticator app now shows for this account. The "
              "code changes every 30 seconds; any current one works. Type {back} to see the key "
              "again.").format(back=_("back"))
        )
        while self.flow.step == Step.ENTER_SETUP_CODE:
            answer = self._read_code()
            if answer is None:
                continue
            if answer in _word(N_("back")):
                self._back()
            else:
                self._call(partial(self.flow.verify_setup_code, answer), _("Checking…"))

    def _save_recovery_code(self) -> None:
        t = self.term
        code = self.flow.recovery_code_for_display or ""
        yes = _("yes")
        self._header(N_("Save Your Recovery Code"))
        t.say(
            _("Your app works. If you ever lose this phone, this recovery code lets you set up "
              "a new one. It is shown only now:")
        )
        t.line(_("Recovery code: {code}").format(code=code))
        t.say(
            _("Each recovery code works only once. Store it where you can reach it from another "
              "device (a password manager or notes), not only on this phone.")
        )
        t.say(_("When you have securely saved it, type {yes} and press Enter.").format(yes=yes))
        while self.flow.step == Step.SAVE_RECOVERY_CODE:
            answer = self._ask(_("Saved it? Type {yes}: ").format(yes=yes)).strip().casefold()
            if answer == yes.casefold():
                self._call(lambda: self.flow.finish_enrollment(saved=True), _("Saving…"))
            elif answer in _word(N_("back")):
                self._back()
            else:
                t.say(_("Nothing is saved until you type {yes}. Type it once you have securely "
                        "saved your recovery code.").format(yes=yes))

    def _enter_code(self) -> None:
        recovery = _word(N_("recovery"))
        self._header(N_("Enter the 6-digit code"))
        self.term.say(
            _("Open your authenticator app and enter the 6-digit code it shows for this "
              "account. Lost or replaced your phone? Type {recovery} to use your recovery code "
              "instead.").format(recovery=_("recovery"))
        )
        while self.flow.step == Step.ENTER_CODE:
            answer = self._read_code(recovery)
            if answer is None:
                continue
            if answer in _word(N_("back")):
                self._back()
            elif answer in recovery:
                self._call(self.flow.use_recovery_code)
            else:
                self._call(partial(self.flow.submit_code, answer), _("Checking…"))

    def _use_recovery_code(self) -> None:
        t = self.term
        self._header(N_("Use Your Recovery Code"))
        t.say(
            _("Enter the recovery code you saved when you set up your authenticator app. "
              "Capitals, spaces and hyphens don't matter. Each code works once: after this "
              "you'll set up your new phone and get a new recovery code.")
        )
        while self.flow.step == Step.ENTER_RECOVERY_CODE:
            answer = self._ask(_("Recovery code: ")).strip()
            if answer.casefold() in _word(N_("back")):
                self._back()
            elif not answer:
                t.say(_("Enter your recovery code."))
            else:
                self._call(partial(self.flow.submit_recovery_code, answer), _("Checking…"))

    def _signed_in(self) -> None:
        t = self.term
        seconds = round(self.signed_in_timeout)
        self._header(N_("Signed in"))
        t.say(_("You're signed in with your authenticator app."))
        t.say(
            _("Next time you sign in, enter your email and password, then the 6-digit code "
              "your app shows. Keep your recovery code safe: it's how you get back in if you "
              "lose your phone.")
        )
        if self.mode == "ssh":
            prompt = _("Press Enter to end this session; it ends by itself in {seconds} "
                       "seconds. ")
        else:
            prompt = _("Press Enter when you're done; this clears itself in {seconds} seconds "
                       "and nothing of yours stays on this kiosk. ")
        with suppress(Interrupted, IdleTimeout):
            self.term.ask(prompt.format(seconds=seconds), timeout=self.signed_in_timeout)
        raise _SessionOver("done")


@contextmanager
def _suppress_hangup() -> Iterator[None]:
    """Saying goodbye to a terminal that is already gone is not an error."""
    with suppress(HungUp):
        yield


def _raise_hangup(signum: int, frame: FrameType | None) -> None:
    raise HungUp()


def run_plain_session(
    service: ServiceSource,
    *,
    mode: str,
    source: str,
    demo_hint: str | None = None,
    one_person: bool = False,
    fd_in: int = 0,
    fd_out: int = 1,
) -> str | None:
    """Run plain mode on this process's terminal; returns a crash reference, if one was shown.

    A hang-up (SIGHUP: the connection was closed) or SIGTERM unwinds through the same `finally`
    as a normal end, so the terminal settings are put back on every way out.
    """
    previous = {
        signum: signal.signal(signum, _raise_hangup) for signum in (signal.SIGHUP, signal.SIGTERM)
    }
    try:
        with LineTerminal(fd_in, fd_out) as term:
            session = PlainSession(service, term, mode=mode, source=source, demo_hint=demo_hint)
            with suppress(HungUp):
                session.run(one_person=one_person)
            return session.crash_reference
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
