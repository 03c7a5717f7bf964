"""The `kiosk` entry point: plain `kiosk run` starts without the admin CLI; all else goes to click.

Both paths must behave the same for a person or an admin: same one-line errors, same exit codes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.launch import parse_run_arguments
from kiosk.runtime import exit_on_failure


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (None, None, False)),
        (["run"], (None, None, False)),
        (["run", "--mode", "kiosk"], (None, "kiosk", False)),
        (["run", "--mode=ssh"], (None, "ssh", False)),
        (["--config", "c.toml"], ("c.toml", None, False)),
        (["--config=c.toml", "run"], ("c.toml", None, False)),
        (["--config", "/etc/kiosk/config.toml", "run", "--mode", "ssh"],
         ("/etc/kiosk/config.toml", "ssh", False)),
        (["run", "--plain"], (None, None, True)),
        (["run", "--mode", "ssh", "--plain"], (None, "ssh", True)),
        (["--config", "c.toml", "run", "--plain", "--mode=kiosk"], ("c.toml", "kiosk", True)),
    ],
)
def test_plain_run_forms_take_the_fast_path(
    argv: list[str], expected: tuple[str | None, str | None, bool]
) -> None:
    assert parse_run_arguments(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-h"],
        ["--version"],
        ["run", "--help"],
        ["run", "--mode", "bogus"],  # click names the valid modes
        ["run", "--mode"],
        ["run", "--mode", "--help"],
        ["run", "run"],
        ["run", "--mode", "ssh", "--mode", "kiosk"],
        ["run", "--plain", "--plain"],
        ["run", "--plain=yes"],
        ["--plain", "run"],
        ["run", "--plain", "--mode"],
        ["--config"],
        ["--config", "--help"],
        ["--config=-x", "run"],
        ["--config", "c.toml", "--config", "d.toml"],
        ["demo"],
        ["users", "list"],
        ["serve"],
        ["RUN"],
    ],
)
def test_everything_else_is_left_to_click(argv: list[str]) -> None:
    assert parse_run_arguments(argv) is None


def _run_entry_point(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run `kiosk ARGS` without a terminal; also report whether click was ever imported."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('click imported:', 'click' in sys.modules))\n"
        "from kiosk.launch import main\n"
        f"main({args!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=cwd,
        env=env, stdin=subprocess.DEVNULL, check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result, "click imported: True" in result.stdout


def test_kiosk_run_starts_without_click_and_fails_like_the_cli(tmp_path: Path) -> None:
    """Both paths say the same one line when there is no terminal; only one loads click."""
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///k.db"\n')
    fast, fast_loaded_click = _run_entry_point(["run", "--mode", "ssh"], tmp_path)
    slow, slow_loaded_click = _run_entry_point(["run", "--mode", "ssh", "--mode", "ssh"], tmp_path)
    expected = "kiosk: error: the kiosk needs an interactive terminal (connect with ssh -t)\n"
    assert (fast.returncode, fast.stderr) == (2, expected)
    assert (slow.returncode, slow.stderr) == (2, expected)  # click: the last --mode wins
    assert not fast_loaded_click and slow_loaded_click


def test_a_bad_config_is_one_line_on_the_fast_path(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[kiosk]\nmode = 'bogus'\n")
    result, loaded_click = _run_entry_point([], tmp_path)
    assert result.returncode == 2
    assert result.stderr == "kiosk: error: kiosk.mode must be one of kiosk, ssh\n"
    assert not loaded_click


def test_a_bad_mode_gets_clicks_usage_error(tmp_path: Path) -> None:
    result, loaded_click = _run_entry_point(["run", "--mode", "bogus"], tmp_path)
    assert result.returncode == 2 and loaded_click
    assert "Invalid value for '--mode'" in result.stderr


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_an_unexpected_error_is_one_line_with_a_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The person sees the error's type and a reference, never its text (it may hold input);
    the log has the same reference. (A handler on the kiosk logger itself: the kiosk's logging
    set-up stops propagation to the root logger, where pytest's caplog listens.)"""
    records = _Records()
    logger = logging.getLogger("kiosk")
    logger.addHandler(records)
    try:
        with pytest.raises(SystemExit) as exited:
            exit_on_failure(RuntimeError("hunter2 was typed here"))
    finally:
        logger.removeHandler(records)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: unexpected RuntimeError (reference ")
    assert err.count("\n") == 1 and "hunter2" not in err
    reference = err.split("reference ")[1].split(",")[0]
    assert any(reference in message for message in records.messages)


def test_an_exit_is_not_a_failure() -> None:
    with pytest.raises(SystemExit) as exited:
        exit_on_failure(SystemExit(0))
    assert exited.value.code == 0


def test_what_people_typed_is_never_frozen_out_of_the_collector() -> None:
    """The imports are frozen once, before the first screen; a kiosk that starts the full-screen
    app again (after a person used plain mode) must not freeze what exists by then."""
    script = (
        "import gc\n"
        "from kiosk.runtime import freeze_imported_objects\n"
        "freeze_imported_objects()\n"
        "frozen = gc.get_freeze_count()\n"
        "typed = [['a password typed by a person'] for _ in range(1000)]\n"
        "freeze_imported_objects()\n"
        "print(gc.get_freeze_count() - frozen)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "0"
