"""The board with Pilot on a real store: rows, counts, live steps from another process, filter,
sort, every action (confirmed, done, audited as the staff member), and nothing secret on screen.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, Input, OptionList, Static
from textual.widgets.data_table import ColumnKey

from kiosk.board.app import BoardApp
from kiosk.board.dialogs import ConfirmScreen, PassScreen, WalkInScreen
from kiosk.board.screen import BoardScreen
from kiosk.core import audit
from kiosk.core.flow import AuthFlow, Step
from tests.board.conftest import (
    COHORT,
    STAFF,
    Cohort,
    make_board,
    run,
)
from tests.conftest import REPO
from tests.ui.conftest import kiosk_log, wait_until


def table(app: BoardApp) -> DataTable[Any]:
    return app.screen.query_one("#people", DataTable)


def board(app: BoardApp) -> BoardScreen:
    screen = app.screen
    assert isinstance(screen, BoardScreen)
    return screen


def cell(app: BoardApp, email: str, column: str) -> str:
    return str(table(app).get_cell(email, column))


def emails_shown(app: BoardApp) -> list[str]:
    t = table(app)
    return [str(t.get_row_at(i)[1]) for i in range(t.row_count)]


def text_of(app: BoardApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def screen_text(app: BoardApp) -> str:
    return app.export_screenshot()


async def loaded(pilot: Pilot[Any], count: int = 8) -> None:
    app = pilot.app
    assert await wait_until(
        pilot,
        lambda: isinstance(app.screen, BoardScreen) and table(app).row_count == count,
    )


async def select(pilot: Pilot[Any], email: str) -> None:
    app = pilot.app
    t = table(app)
    t.focus()
    t.move_cursor(row=t.get_row_index(email))
    await pilot.pause()
    assert board(app)._selected == email


def audited(email: str, event: str) -> list[str]:
    return [row.source for row in audit.query(email=email) if row.event == event]


# --------------------------------------------------------------------------- what it shows
def test_rows_states_attention_and_counts(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            e = cohort.emails
            expected = {
                e["enrolled"]: ("enrolled", ""),
                e["code_confirmed"]: ("confirmed", ""),
                e["idle"]: ("setting up", "idle"),
                e["wrong_codes"]: ("setting up", "wrong codes"),
                e["locked"]: ("not started", "locked"),
                e["signed_in"]: ("signed in", ""),
                e["pass_expired"]: ("not started", "pass expired"),
                e["not_started"]: ("not started", ""),
            }
            for email, (state, attention) in expected.items():
                assert cell(app, email, "state") == state
                assert cell(app, email, "attention") == attention
            assert cell(app, e["idle"], "since") == "20 min"
            assert cell(app, e["wrong_codes"], "attempts") == "2"
            assert cell(app, e["enrolled"], "name") == "Ada Lovelace"
            counts = text_of(app, "#counts")
            assert "3 not started · 1 signed in · 2 setting up · 1 confirmed · 1 enrolled" in counts
            assert "1 of 8 enrolled · ⚑ 4 need attention" in text_of(app, "#progress-label")
            funnel = text_of(app, "#funnel").splitlines()
            assert [line.split()[-1] for line in funnel[1:]] == ["5", "4", "2", "1"]

    run(scenario())


def test_details_give_the_hint_in_plain_words(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await select(pilot, cohort.emails["locked"])
            details = text_of(app, "#details")
            assert "locked" in details and "unlock it" in details
            await select(pilot, cohort.emails["pass_expired"])
            assert "Issue a new one" in text_of(app, "#details")

    run(scenario())


# --------------------------------------------------------------------------- live
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tests.conftest import make_settings
    from kiosk.core.service import KioskService
    from tests.board.conftest import to_setting_up
    service = KioskService.open(make_settings(Path({base!r}), {url!r}))
    to_setting_up(service, {email!r})
    service.close()
    """
)


def test_a_step_taken_in_another_process_appears(any_cohort: Cohort) -> None:
    """A kiosk elsewhere (another process, its own connection) records a step; the board shows
    it without a reload: on SQLite by data_version, on PostgreSQL by LISTEN/NOTIFY."""
    cohort = any_cohort
    email = cohort.emails["signed_in"]
    settings = cohort.service.settings

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            assert cell(app, email, "state") == "signed in"
            script = WRITER.format(
                repo=str(REPO),
                base=str(settings.base_dir),
                url=settings.database_url,
                email=email,
            )
            subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
            assert await wait_until(pilot, lambda: cell(app, email, "state") == "setting up")
            assert "2 signed in" not in text_of(app, "#counts")
            assert "3 setting up" in text_of(app, "#counts")

    run(scenario())


def test_people_added_elsewhere_join_the_table(cohort: Cohort) -> None:
    from kiosk.core.cohorts import NewPerson

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            cohort.service.cohorts.add(COHORT, [NewPerson("ivy@example.com", "Ivy")], staff="x")
            await loaded(pilot, 9)
            assert cell(app, "ivy@example.com", "state") == "not started"
            cohort.service.cohorts.remove_member(COHORT, "ivy@example.com", staff="x")
            await loaded(pilot, 8)

    run(scenario())


# --------------------------------------------------------------------------- filter and sort
def test_typing_filters_rows(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await pilot.press("slash")
            assert app.screen.query_one("#filter", Input).has_focus
            await pilot.press(*"setting")
            assert sorted(emails_shown(app)) == [
                cohort.emails["idle"],
                cohort.emails["wrong_codes"],
            ]
            await pilot.press(*" idle")
            assert emails_shown(app) == [cohort.emails["idle"]]
            app.screen.query_one("#filter", Input).value = "attention-none"
            await pilot.pause()
            assert emails_shown(app) == []
            app.screen.query_one("#filter", Input).value = "expired"
            await pilot.pause()
            assert emails_shown(app) == [cohort.emails["pass_expired"]]
            app.screen.query_one("#filter", Input).value = "ADA@"
            await pilot.pause()
            assert emails_shown(app) == [cohort.emails["enrolled"]]
            await pilot.press("escape")
            assert table(app).has_focus

    run(scenario())


def test_sorting_by_key_and_by_header_click(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            # s: name, email, then state (in stage order, not alphabetical).
            await pilot.press("s", "s", "s")
            states = [cell(app, e, "state") for e in emails_shown(app)]
            order = ["not started", "signed in", "setting up", "confirmed", "enrolled"]
            assert states == sorted(states, key=order.index)
            assert str(table(app).columns[ColumnKey("state")].label) == "State ▲"
            # Clicking the Fails header sorts by failed attempts; a second click reverses.
            t = table(app)
            widths = board(app)._widths
            fails_offset = sum(widths[key] + 2 for key in ("name", "email", "state", "since"))
            await pilot.click("#people", offset=(fails_offset + 2, 0))
            await pilot.pause()
            fails = [int(cell(app, e, "attempts")) for e in emails_shown(app)]
            assert fails == sorted(fails)
            await pilot.click("#people", offset=(fails_offset + 2, 0))
            await pilot.pause()
            fails = [int(cell(app, e, "attempts")) for e in emails_shown(app)]
            assert fails == sorted(fails, reverse=True) and fails[0] == 5
            assert t.row_count == 8

    run(scenario())


def test_the_selection_follows_its_person_when_rows_move(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await pilot.press("s", "s", "s")  # by state
            target = cohort.emails["signed_in"]
            await select(pilot, target)
            from tests.board.conftest import to_setting_up

            to_setting_up(cohort.service, target)  # moves the row down among "setting up"
            assert await wait_until(pilot, lambda: cell(app, target, "state") == "setting up")
            row_key = table(app).coordinate_to_cell_key(table(app).cursor_coordinate).row_key
            assert row_key.value == target

    run(scenario())


# --------------------------------------------------------------------------- actions
def test_issue_pass_is_confirmed_shown_once_and_works(cohort: Cohort) -> None:
    email = cohort.emails["pass_expired"]

    async def scenario() -> str:
        app = make_board(cohort)
        with kiosk_log() as log:
            async with app.run_test(size=(80, 24)) as pilot:
                await loaded(pilot)
                await select(pilot, email)
                await pilot.press("p")
                assert isinstance(app.screen, ConfirmScreen)
                assert audited(email, "pass_issued") == ["staff:test"]  # nothing yet
                await pilot.press("y")
                assert await wait_until(pilot, lambda: isinstance(app.screen, PassScreen))
                shown = str(app.screen.query_one("#pass-plain", Static).render())
                text = shown.replace(" ", "")
                assert len(text) == 11 and text[5] == "-"
                big = str(app.screen.query_one("#pass-big", Static).render())
                assert big.count("\n") == 3 and "█" in big
                await pilot.press("enter")
                assert await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
                await pilot.pause()
                after = screen_text(app)
                assert text not in after and text.replace("-", "") not in after
                assert shown not in after
                for row in range(table(app).row_count):
                    assert not any(text in str(c) for c in table(app).get_row_at(row))
                assert text not in text_of(app, "#status")
                assert "Pass issued for" in text_of(app, "#status")
                assert await wait_until(pilot, lambda: cell(app, email, "attention") == "")
        assert text not in log.getvalue()
        return text

    text = run(scenario())
    assert audited(email, "pass_issued") == ["staff:test", f"staff:{STAFF}"]
    flow = AuthFlow(cohort.service, "test-kiosk")
    assert flow.submit_password(email, text) == Step.CREATE_PASSWORD


def test_saying_no_changes_nothing(cohort: Cohort) -> None:
    email = cohort.emails["not_started"]

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await select(pilot, email)
            for key in ("p", "x", "r", "u"):
                await pilot.press(key)
                assert isinstance(app.screen, ConfirmScreen)
                await pilot.press("n" if key != "r" else "escape")
                assert isinstance(app.screen, BoardScreen)
                assert "nothing was changed" in text_of(app, "#status")

    run(scenario())
    assert audited(email, "pass_issued") == []
    assert audited(email, "cohort_member_removed") == []
    assert email in {p.email for p in cohort.service.cohorts.people(COHORT)}


def footer_keys(app: BoardApp) -> list[str]:
    """What the footer on top lists (the active screen's own footer; none yet: [])."""
    footers = app.screen.query(Footer)
    if not footers:
        return []
    return [key.description for key in footers.first().query("FooterKey")]


def test_a_dialog_footer_lists_the_dialog_keys_not_the_board_keys(cohort: Cohort) -> None:
    """Under a dialog the board's keys do nothing: the footer must not offer them."""
    email = cohort.emails["not_started"]

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            # A footer lays out its keys after it is mounted: wait for them.
            assert await wait_until(pilot, lambda: "Quit" in footer_keys(app)), footer_keys(app)
            await select(pilot, email)
            for key, expected in (("u", ["Yes", "No"]), ("a", ["Cancel"]), ("e", ["Cancel"])):
                await pilot.press(key)
                assert not isinstance(app.screen, BoardScreen)
                assert await wait_until(pilot, lambda want=expected: footer_keys(app) == want), (
                    key, footer_keys(app)
                )
                await pilot.press("escape")
                assert await wait_until(pilot, lambda: isinstance(app.screen, BoardScreen))
            await pilot.press("p", "y")
            assert await wait_until(pilot, lambda: isinstance(app.screen, PassScreen))
            assert await wait_until(pilot, lambda: footer_keys(app) == ["Done"]), footer_keys(app)
            await pilot.press("enter")

    run(scenario())


def test_unlock_reset_and_remove_are_audited_as_the_staff_member(cohort: Cohort) -> None:
    locked, enrolled, gone = (
        cohort.emails["locked"],
        cohort.emails["enrolled"],
        cohort.emails["not_started"],
    )

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await select(pilot, locked)
            await pilot.press("u", "y")
            assert await wait_until(pilot, lambda: cell(app, locked, "attention") == "")
            assert "Unlocked" in text_of(app, "#status")

            await select(pilot, enrolled)
            await pilot.press("r")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("enter")  # No has the focus for a reset: nothing happens
            assert isinstance(app.screen, BoardScreen)
            assert cell(app, enrolled, "state") == "enrolled"
            await pilot.press("r", "y")
            assert await wait_until(pilot, lambda: cell(app, enrolled, "state") == "not started")

            await select(pilot, gone)
            await pilot.press("x", "y")
            assert await wait_until(pilot, lambda: gone not in emails_shown(app))
            assert table(app).row_count == 7

    run(scenario())
    source = f"staff:{STAFF}"
    assert audited(locked, "unlocked") == [source]
    assert audited(enrolled, "reset") == [source]
    assert audited(gone, "cohort_member_removed") == [source]
    assert not cohort.service.accounts.summary(enrolled).enrolled
    assert not cohort.service.accounts.summary(locked).locked
    assert gone not in {p.email for p in cohort.service.cohorts.people(COHORT)}


def test_add_a_walk_in(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await pilot.press("a")
            assert isinstance(app.screen, WalkInScreen)
            await pilot.press(*"not an email", "enter", "enter")
            assert "not an email" in text_of(app, "#walk-in-problem")
            app.screen.query_one("#walk-in-email", Input).value = "Walk.In@Example.com"
            await pilot.click("#walk-in-name")
            await pilot.press(*"Wanda In", "enter")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            assert await wait_until(pilot, lambda: table(app).row_count == 9)
            assert cell(app, "walk.in@example.com", "name") == "Wanda In"
            assert board(app)._selected == "walk.in@example.com"
            # The same person again: one calm line, no traceback.
            await pilot.press("a")
            await pilot.press(*"walk.in@example.com", "enter", "enter", "y")
            assert await wait_until(pilot, lambda: "already in" in text_of(app, "#status"))
            assert app.screen.query_one("#status").has_class("-error")

    run(scenario())
    assert audited("walk.in@example.com", "cohort_member_added") == [f"staff:{STAFF}"]
    assert audited("walk.in@example.com", "user_added") == [f"staff:{STAFF}"]


def test_export_writes_the_report(cohort: Cohort, tmp_path: Path) -> None:
    """Needs kiosk.reports (another change); skipped while it is not implemented."""
    from kiosk.reports import report_as_json

    try:
        report_as_json(cohort.service.cohorts.report(COHORT))
    except NotImplementedError:
        pytest.skip("kiosk.reports.report_as_json is not implemented in this branch yet")
    out = tmp_path / "report.json"

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await pilot.press("e")
            app.screen.query_one("#export-path", Input).value = str(out)
            await pilot.press("enter", "y")
            assert await wait_until(pilot, lambda: "Wrote the report" in text_of(app, "#status"))

    run(scenario())
    data = json.loads(out.read_text())
    assert "ada@example.com" in json.dumps(data)
    assert out.stat().st_mode & 0o077 == 0


# --------------------------------------------------------------------------- picker, quitting
def test_without_a_cohort_a_picker_opens_one(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort, name=None)
        async with app.run_test(size=(80, 24)) as pilot:
            assert await wait_until(pilot, lambda: bool(app.screen.query(OptionList)))
            options = app.screen.query_one(OptionList)
            assert await wait_until(pilot, lambda: options.option_count == 1)
            assert "1 of 8 enrolled" in str(options.get_option_at_index(0).prompt)
            await pilot.press("enter")
            await loaded(pilot)
            assert text_of(app, "#title") == f"Cohort {COHORT}"
            await pilot.press("q")
        assert app.return_value is True

    run(scenario())


def test_ctrl_c_quits(cohort: Cohort) -> None:
    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot)
            await pilot.press("ctrl+c")
        assert app.return_value is True

    run(scenario())


def test_nothing_secret_reaches_the_board(cohort: Cohort) -> None:
    """The board's values hold no secret field; the screen shows no recovery code or TOTP
    secret of anyone, even right after people enrolled."""
    from tests.board.conftest import PASSWORD, code_at, to_setting_up

    flow, secret = to_setting_up(cohort.service, cohort.emails["code_confirmed"])
    flow.continue_to_code()
    recovery = flow.verify_setup_code(code_at(secret, cohort.clock))
    flow.finish_enrollment(saved=True)

    async def scenario() -> None:
        app = make_board(cohort)
        async with app.run_test(size=(120, 40)) as pilot:
            await loaded(pilot)
            for email in cohort.emails.values():
                await select(pilot, email)
                shown = screen_text(app)
                for secret_text in (secret, recovery, recovery.replace("-", ""), PASSWORD):
                    assert secret_text not in shown

    run(scenario())
