"""`kiosk onboard` as staff run it: the installed command in a real pty (pexpect + pyte)."""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.config import Settings
from tests.board.conftest import COHORT, Cohort
from tests.conftest import write_config
from tests.support.terminal import CTRL_C, Terminal, TerminalTimeout


def onboard(tmp_path: Path, settings: Settings, *args: str) -> Terminal:
    config = write_config(tmp_path / "config.toml", settings)
    argv = [sys.executable, "-m", "kiosk", "--config", str(config), "onboard", *args]
    return Terminal(argv, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "SUDO_USER": "bob"})


def filter_row(term: Terminal) -> str:
    """The screen line of the filter field."""
    return next((line for line in term.screen.display if "Filter" in line), "")


def test_the_board_runs_in_a_terminal_and_q_quits(cohort: Cohort, tmp_path: Path) -> None:
    with onboard(tmp_path, cohort.service.settings, COHORT) as term:
        term.wait_for_text("staff: bob")
        term.wait_for_text("hana@example.com")
        term.wait_for_text("1 of 8 enrolled")
        term.send("q")
        assert term.wait_for_exit() == 0


def test_the_picker_then_ctrl_c(cohort: Cohort, tmp_path: Path) -> None:
    with onboard(tmp_path, cohort.service.settings) as term:
        term.wait_for_text(f"{COHORT}   1 of 8 enrolled")
        term.send("\r")
        term.wait_for_text("hana@example.com")
        term.send(CTRL_C)
        assert term.wait_for_exit() == 0


def test_an_unknown_cohort_is_one_line(cohort: Cohort, tmp_path: Path) -> None:
    with onboard(tmp_path, cohort.service.settings, "Nope") as term:
        status = term.wait_for_exit()
        output = term.raw.decode()
    assert status == 2
    assert output.strip() == "kiosk: error: no cohort named 'Nope'"


def test_without_a_terminal_it_says_so(kiosk_cli: object, cohort: Cohort) -> None:
    # kiosk_cli runs with pipes, not a terminal (its own config, the same kind of store).
    result = kiosk_cli("onboard", COHORT)  # type: ignore[operator]
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "kiosk: error: the board needs an interactive terminal (connect with ssh -t)"
    )
    assert "Traceback" not in result.stderr


def test_hostile_input_and_a_huge_window_do_not_end_the_board(
    cohort: Cohort, tmp_path: Path
) -> None:
    """Staff reach the board over SSH from any terminal: a Latin-1 "é", line noise or a paste
    gone wrong must not end it (Textual's own driver raised in its input thread and stopped),
    and a 65535×65535 window lays out 500×200 at most (5000×3000 alone took 244 MiB)."""
    with onboard(tmp_path, cohort.service.settings, COHORT) as term:
        term.wait_for_text("hana@example.com")
        term.wait_for_quiet()
        term.send("/")
        term.wait_for_quiet()
        term.send(b"caf\xe9 \xff\xfe\xc3\x28")
        term.wait_for_text("caf\ufffd", 10)  # shown as a replacement, never a crash
        term.send("x" * 200_000)
        # Past its bound the flood is dropped until the terminal goes quiet, then keys flow
        # again, queued behind every flood key the filter took: probe until one shows. (Two
        # seconds of an unchanged screen proved nothing: the filter's text stays "xxx…" while
        # its keys are still being handled, and an Escape sent then went in behind them.)
        for _ in range(60):
            term.send("!")
            try:
                term.wait_until(lambda: "!" in filter_row(term), 1.0, "a key after the flood")
                break
            except TerminalTimeout:
                continue
        else:
            raise AssertionError(f"the board never read a key again:\n{term.dump()}")
        assert term.is_alive()
        term.send_and_wait_for_change("\x1b")  # back to the table (the focus moves)
        term.wait_for_quiet()
        term.set_window_size(65535, 65535)  # ssh -tt from a confused client, or a resize
        term.wait_for_quiet(quiet=1.0, timeout=60)
        assert term.is_alive() and term.rss_mib() < 300, term.rss_mib()
        term.send("q")
        assert term.wait_for_exit() == 0, "the board no longer answered its keys"
