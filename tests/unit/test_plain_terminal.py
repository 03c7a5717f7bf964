"""LineTerminal, the plain mode's I/O, on a real pty: editing, hostile input, the tty restored."""

from __future__ import annotations

import contextlib
import os
import select
import termios
from collections.abc import Iterator

import pytest

from kiosk.plain.terminal import (
    MAX_LINE_CHARS,
    HungUp,
    IdleTimeout,
    Interrupted,
    LineTerminal,
)


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def output(master: int) -> bytes:
    data = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def lflag(fd: int) -> int:
    return int(termios.tcgetattr(fd)[3])


def test_the_terminal_is_put_back_as_it_was(pty: tuple[int, int]) -> None:
    master, slave = pty
    before = termios.tcgetattr(slave)
    with LineTerminal(slave, slave):
        assert not lflag(slave) & (termios.ECHO | termios.ICANON | termios.ISIG)
    assert termios.tcgetattr(slave) == before


def test_the_terminal_is_put_back_after_a_hang_up(pty: tuple[int, int]) -> None:
    master, slave = pty
    before = termios.tcgetattr(slave)
    term = LineTerminal(slave, slave)
    term.open()
    os.write(master, b"\x04")  # ctrl+d on an empty line: the end of input
    with pytest.raises(HungUp):
        term.ask("Email: ")
    term.close()
    assert termios.tcgetattr(slave) == before


def test_editing_keys_and_escape_sequences(pty: tuple[int, int]) -> None:
    master, slave = pty
    with LineTerminal(slave, slave) as term:
        os.write(master, b"ab\x1b[D\x1b[1;5Cc\x7fd\tX\x15ada\x1bOQ@ex\r")
        assert term.ask("Email: ") == "ada@ex"
    written = output(master)
    assert b"\x1b" not in written
    assert written.startswith(b"Email: ab")


def test_a_secret_is_never_echoed(pty: tuple[int, int]) -> None:
    master, slave = pty
    with LineTerminal(slave, slave) as term:
        os.write(master, b"hunter2 secret\x7f\r")
        assert term.ask("Password: ", secret=True) == "hunter2 secre"
    written = output(master)
    assert b"hunter2" not in written and b"Password: " in written


def test_bytes_that_are_not_utf8_become_replacement_characters(pty: tuple[int, int]) -> None:
    master, slave = pty
    with LineTerminal(slave, slave) as term:
        os.write(master, b"\xff\xfeok\xc3(\r")
        assert term.ask("Email: ") == "\ufffd\ufffdok\ufffd("


def test_a_huge_line_stops_growing(pty: tuple[int, int]) -> None:
    master, slave = pty
    with LineTerminal(slave, slave) as term:
        for _ in range(5):
            os.write(master, b"a" * 1000)
            output(master)
        os.write(master, b"\r")
        assert term.ask("Email: ") == "a" * MAX_LINE_CHARS


def test_ctrl_c_interrupts_and_keys_typed_ahead_stay_for_the_next_prompt(
    pty: tuple[int, int],
) -> None:
    master, slave = pty
    with LineTerminal(slave, slave) as term:
        os.write(master, b"half\x03next\r")
        with pytest.raises(Interrupted):
            term.ask("Email: ")
        assert term.ask("Email: ") == "next"


def test_no_key_for_the_whole_timeout_is_an_idle_timeout_after_one_warning(
    pty: tuple[int, int],
) -> None:
    master, slave = pty
    warnings: list[int] = []
    with LineTerminal(slave, slave) as term, pytest.raises(IdleTimeout):
        term.ask("Email: ", timeout=0.4, warn_before=0.2, warning=warnings.append)
    assert warnings == [1]


def test_waiting_while_nothing_is_typed_has_no_timeout_until_a_key(pty: tuple[int, int]) -> None:
    master, slave = pty
    with LineTerminal(slave, slave) as term:
        os.write(master, b"x")
        with pytest.raises(IdleTimeout):
            term.ask("Email: ", timeout=0.3, wait_while_empty=True)
