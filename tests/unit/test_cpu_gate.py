"""The machine-wide argon2 gate (kiosk/core/cpu_gate.py), with real processes and real flocks.

What people rely on: at most N argon2 runs at once across every kiosk process (so a crowd of
SSH logins does not thrash the CPU); a kiosk killed while hashing never blocks the others; and
the gate never costs a sign-in: a folder it cannot use means hashing ungated, with one log line
that holds no secret. Fast argon2 parameters throughout; nothing here asserts on time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import Settings
from kiosk.core import cpu_gate
from kiosk.core.accounts import Hasher
from kiosk.core.cpu_gate import SLOT_FOLDER_NAME, CpuGate
from kiosk.core.flow import AuthFlow
from kiosk.core.service import KioskService
from kiosk.core.steps import Step
from kiosk.errors import AuthenticationFailed
from tests.conftest import FAST_ARGON2, REPO, make_settings, wait_for

PASSWORD = "correct horse battery"
EMAIL = "ada@example.com"

# A child process: runs `runs` gated argon2 hashes (fast parameters) once told "go", and prints
# the monotonic (machine-wide clock) interval each run spent inside argon2. Each run is held 30 ms
# longer inside the slot, so that runs of different processes would overlap without the gate.
_HASH_CHILD = """
import json, sys, time
from pathlib import Path
import argon2
from kiosk.core.accounts import Hasher
from kiosk.core.cpu_gate import CpuGate

folder, slots, runs = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
real_hash = argon2.PasswordHasher.hash
intervals = []

def probed(self, secret):
    start = time.monotonic()
    try:
        out = real_hash(self, secret)
        time.sleep(0.03)
        return out
    finally:
        intervals.append((start, time.monotonic()))

argon2.PasswordHasher.hash = probed
hasher = Hasher(1, 8192, 1, gate=CpuGate(folder, slots))
hasher.hash("warm-up")  # imports and the folder, before the race
intervals.clear()
print("ready", flush=True)
sys.stdin.readline()
for _ in range(runs):
    hasher.hash("x")
print(json.dumps(intervals), flush=True)
"""

# A child process that takes every slot of the gate in `folder` and keeps them until killed.
_HOLD_CHILD = """
import contextlib, sys, time
from pathlib import Path
from kiosk.core.cpu_gate import CpuGate

gate = CpuGate(Path(sys.argv[1]), int(sys.argv[2]))
with contextlib.ExitStack() as stack:
    for _ in range(gate.slots):
        stack.enter_context(gate.slot())
    print("holding", flush=True)
    time.sleep(600)
"""


def _child(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
    )


@contextlib.contextmanager
def _holding_every_slot(folder: Path, slots: int) -> Iterator[subprocess.Popen[str]]:
    """Another process holding every slot of the gate in `folder`; killed on the way out."""
    holder = _child(_HOLD_CHILD, folder, slots)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _kill(holder: subprocess.Popen[str]) -> None:
    """SIGKILL: the process dies holding its slots, as a kiosk killed mid-hash would."""
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at the same instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, change in edges:  # at equal times the end (-1) sorts first: touching is not overlap
        now += change
        most = max(most, now)
    return most


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def gate_log() -> Iterator[list[str]]:
    """Every line the gate logs, formatted as the kiosk's log file would have it."""
    handler = _Records()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("kiosk.cpu_gate")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, sqlite_url)


def _open_with_a_user(settings: Settings) -> KioskService:
    service = KioskService.open(settings)
    service.accounts.add_user(EMAIL, PASSWORD)
    return service


@pytest.fixture
def svc(settings: Settings) -> Iterator[KioskService]:
    service = _open_with_a_user(settings)
    yield service
    service.close()


def _slot_folder(settings: Settings) -> Path:
    return settings.key_path.parent / SLOT_FOLDER_NAME


# ------------------------------------------------------------------------------- at most N
@pytest.mark.parametrize(("slots", "processes"), [(1, 2), (2, 3)])
def test_at_most_n_argon2_runs_at_once_across_processes(
    tmp_path: Path, slots: int, processes: int
) -> None:
    runs = 5
    children = [_child(_HASH_CHILD, tmp_path / "slots", slots, runs) for _ in range(processes)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=120)[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert all(child.returncode == 0 for child in children)
    intervals = [tuple(i) for out in outputs for i in json.loads(out.strip().splitlines()[-1])]
    assert len(intervals) == processes * runs
    assert _most_at_once(intervals) <= slots  # type: ignore[arg-type]


def test_the_product_gates_every_argon2_run_hash_verify_and_refusals(
    svc: KioskService, settings: Settings
) -> None:
    """While another process holds every slot, a sign-in, an unknown email's refusal and a
    recovery-code hash all wait; when that process is SIGKILLed, all of them go through."""
    folder = _slot_folder(settings)
    slots = svc.ctx.hasher.gate.slots  # type: ignore[union-attr]
    with _holding_every_slot(folder, slots) as holder:
        outcomes: dict[str, object] = {}

        def attempt(name: str, email: str) -> None:
            flow = AuthFlow(svc, "test:gate")
            try:
                outcomes[name] = flow.submit_password(email, PASSWORD)
            except AuthenticationFailed as exc:
                outcomes[name] = exc

        def hash_only() -> None:
            outcomes["hash"] = svc.ctx.hasher.hash("ABCDE12345ABCDE12345ABCDE")

        threads = [
            threading.Thread(target=attempt, args=("known", EMAIL)),
            threading.Thread(target=attempt, args=("unknown", "nobody@example.com")),
            threading.Thread(target=hash_only),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(0.5)
        assert outcomes == {}, "an argon2 run went past a gate whose every slot was held"
        _kill(holder)
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
    assert outcomes["known"] == Step.MFA_REQUIRED
    assert isinstance(outcomes["unknown"], AuthenticationFailed)
    assert str(outcomes["hash"]).startswith("$argon2id$")


def test_a_slot_of_a_killed_process_is_taken_not_skipped(
    tmp_path: Path, gate_log: list[str]
) -> None:
    """After SIGKILL the kernel drops the dead process's flock: the next run really holds the
    slot (another description cannot lock it), it did not give up and run ungated."""
    folder = tmp_path / "slots"
    with _holding_every_slot(folder, 1) as holder:
        _kill(holder)
    gate = CpuGate(folder, 1, wait_limit=30)
    with gate.slot():
        probe = os.open(folder / "slot-0", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
    assert gate_log == []


def test_a_holder_that_never_lets_go_costs_a_wait_not_a_sign_in(
    tmp_path: Path, gate_log: list[str]
) -> None:
    """A process stopped while holding every slot: after `wait_limit` the run goes ungated
    (one log line), and the abandoned waiter drops the slot as soon as it gets it."""
    folder = tmp_path / "slots"
    with _holding_every_slot(folder, 1) as holder:
        gate = CpuGate(folder, 1, wait_limit=0.5)
        hasher = Hasher.from_settings(FAST_ARGON2, gate=gate)
        assert hasher.verify(hasher.hash("secret"), "secret")  # two runs, both ungated
        assert len(gate_log) == 1 and "no slot" in gate_log[0], gate_log
        _kill(holder)

    def slot_is_free() -> bool:
        probe = os.open(folder / "slot-0", os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(probe)

    assert wait_for(slot_is_free, timeout=30)


# ------------------------------------------------------------------------------- the folder
def test_the_slot_folder_is_private_and_next_to_the_key_file(
    svc: KioskService, settings: Settings
) -> None:
    AuthFlow(svc, "test:gate").submit_password(EMAIL, PASSWORD)
    folder = _slot_folder(settings)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    slots = sorted(folder.iterdir())
    assert [p.name for p in slots] == [f"slot-{k}" for k in range(cpu_gate.usable_cpus())]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 and p.stat().st_size == 0 for p in slots)


def test_a_loose_folder_of_our_own_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "slots"
    folder.mkdir()
    os.chmod(folder, 0o750)  # noqa: S103 - the loose folder under test
    with CpuGate(folder, 1).slot():
        pass
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def _assert_ungated_sign_in_works(settings: Settings, gate_log: list[str]) -> None:
    svc = _open_with_a_user(settings)  # the first argon2 run meets the folder as the test left it
    try:
        _sign_in_three_ways(svc)
    finally:
        svc.close()
    assert len(gate_log) == 1, gate_log  # one line per process, not one per sign-in
    line = gate_log[0]
    assert line.startswith("WARNING kiosk.cpu_gate ") and "\n" not in line
    assert SLOT_FOLDER_NAME in line and "without the gate" in line
    for secret in (PASSWORD, "wrong password!", EMAIL, "nobody@example.com", "$argon2"):
        assert secret not in line


def _sign_in_three_ways(svc: KioskService) -> None:
    flow = AuthFlow(svc, "test:gate")
    assert flow.submit_password(EMAIL, PASSWORD) == Step.MFA_REQUIRED
    with pytest.raises(AuthenticationFailed):
        AuthFlow(svc, "test:gate").submit_password(EMAIL, "wrong password!")
    with pytest.raises(AuthenticationFailed):
        AuthFlow(svc, "test:gate").submit_password("nobody@example.com", PASSWORD)


def test_a_file_in_place_of_the_folder_means_ungated_sign_ins(
    settings: Settings, gate_log: list[str]
) -> None:
    _slot_folder(settings).write_text("not a folder")
    _assert_ungated_sign_in_works(settings, gate_log)


def test_a_folder_of_another_user_is_not_used(
    settings: Settings, gate_log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else's folder would let them hold every slot; the kiosk hashes ungated instead.
    (Ownership is decided by the effective uid; the test moves the kiosk's instead of needing
    root to give the folder away.)"""
    _slot_folder(settings).mkdir(mode=0o700)
    real_uid = os.geteuid()
    monkeypatch.setattr(cpu_gate.os, "geteuid", lambda: real_uid + 1)
    _assert_ungated_sign_in_works(settings, gate_log)


def test_a_symlink_in_place_of_the_folder_is_not_followed(
    settings: Settings, gate_log: list[str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    _slot_folder(settings).symlink_to(elsewhere)
    _assert_ungated_sign_in_works(settings, gate_log)
    assert list(elsewhere.iterdir()) == []


def test_the_gate_settings_stay_out_of_the_argon2_parameters() -> None:
    """The gate is not part of what a hash is: hashers with and without it compare equal and
    make hashes each other verifies."""
    gated = Hasher.from_settings(FAST_ARGON2, gate=CpuGate(Path("/nonexistent/slots"), 1))
    plain = Hasher.from_settings(FAST_ARGON2)
    assert gated == plain
    assert plain.verify(gated.hash("secret"), "secret")
