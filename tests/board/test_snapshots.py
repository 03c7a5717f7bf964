"""Snapshots of the board: a cohort in mixed states at 80×24 and 120×40, the details of a person
needing attention, and a confirmation. Ages are relative to a fixed "now" (the board's clock).

Regenerate (after looking at the SVGs) with:
    .venv/bin/python -m pytest tests/board/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.board.conftest import Cohort, make_board
from tests.ui.conftest import wait_until


def ready(select: str | None = None, press: tuple[str, ...] = ()) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert await wait_until(
            pilot,
            lambda: (
                bool(app.screen.query("#people"))
                and app.screen.query_one("#people", DataTable).row_count == 8
            ),
        )
        table = app.screen.query_one("#people", DataTable)
        if select is not None:
            table.move_cursor(row=table.get_row_index(select))
        await pilot.pause()
        if press:
            await pilot.press(*press)
        await pilot.pause()

    return run_before


def test_board_80x24(snap_compare: Any, cohort: Cohort) -> None:
    assert snap_compare(make_board(cohort), terminal_size=(80, 24), run_before=ready())


def test_board_details_of_wrong_codes_120x40(snap_compare: Any, cohort: Cohort) -> None:
    app = make_board(cohort)
    before = ready(select=cohort.emails["wrong_codes"])
    assert snap_compare(app, terminal_size=(120, 40), run_before=before)


def test_confirm_reset_80x24(snap_compare: Any, cohort: Cohort) -> None:
    app = make_board(cohort)
    before = ready(select=cohort.emails["enrolled"], press=("r",))
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
