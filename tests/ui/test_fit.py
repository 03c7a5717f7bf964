"""Lines that must stay one line at 80 columns in every language: a wrapped idle warning would
cover the QR's top rows on Secure your Account (it docks over the header there), and a wrapped
step header pushes every screen down a row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.cells import cell_len

from kiosk.i18n import LANGUAGES, N_, _, set_language
from kiosk.ui.app import SCREEN_FOR_STEP, screen_class
from kiosk.ui.widgets.header import StepHeader
from kiosk.ui.widgets.status import IdleWarning

WIDTH = 80 - 2  # the idle warning's and the header's padding: 0 1
IDLE_WARNINGS = [
    N_("Still there? This session ends in {seconds} s — press any key to stay."),
    N_("Still there? This screen clears in {seconds} s — press any key to stay."),
]


@pytest.fixture(params=sorted(LANGUAGES))
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    set_language(request.param)
    yield request.param
    set_language("en")


def test_the_idle_warning_is_one_line_at_80_columns(language: str) -> None:
    warning = IdleWarning()
    for ends in IDLE_WARNINGS:
        warning.show_remaining(15, ends=ends)
        text = str(warning.content)
        assert "15" in text and "{" not in text
        assert cell_len(text) <= WIDTH, f"{language}: {text!r} wraps at 80 columns"


def test_every_step_header_is_one_line_at_80_columns(language: str) -> None:
    from kiosk.ui.screens.error import ErrorScreen

    classes = [screen_class(step) for step in SCREEN_FOR_STEP] + [ErrorScreen]
    for cls in classes:
        title = _(cls.STEP_TITLE)
        header = StepHeader(
            "Procore",
            title,
            (6, 6),
            hint=_("Esc: back"),
            english_title=cls.STEP_TITLE if language != "en" else "",
            width=WIDTH,
        )
        shown = header.organization + "  ›  " + title
        if header.show_english:
            shown += f" ({header.english_title})"
        assert cell_len(shown) + 3 + cell_len(header.right_text) <= WIDTH, (language, shown)
        assert header.right_text, f"{language}: {title!r} leaves no room for the step"
