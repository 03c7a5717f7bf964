"""A machine-wide gate for argon2: at most one run per CPU at a time, across every kiosk process.

Why: over SSH every session is its own process. A room signing in at once starts as many argon2
runs, each with tens of MiB and several threads; time-sliced together they refill caches and
page tables at every switch, and each run costs more CPU (benchmarks/crowd.py, RESULTS.md).
Behind this gate the runs queue instead, each costs about what it costs alone, and the people
who came first are mostly served first rather than everyone at the end.

How: `slots` empty files in a private folder (0700, files 0600); a run holds an exclusive
`flock` on one of them. A waiter first tries every slot without blocking, then sleeps in
`flock` on one slot chosen at random (no polling, no CPU burnt while waiting). The kernel drops
a flock when its process dies, so a killed kiosk never keeps a slot.

Never a reason for a sign-in to fail: if the folder cannot be made or used, or a slot is not
free after `wait_limit` seconds (a stopped process holding it), argon2 runs ungated and one
line (no secret: the folder and the error's name) goes to the log.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import random
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("kiosk.cpu_gate")

SLOT_FOLDER_NAME = ".kiosk-argon2-slots"
WAIT_LIMIT = 60.0  # seconds; far beyond any queue measured (50 sessions: < 10 s)
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def usable_cpus() -> int:
    """The CPUs this process may run on (cpusets and `taskset` included), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class CpuGate:
    """`with gate.slot():` around every argon2 run. Safe to share between threads.

    Threads of one process exclude each other too: every acquisition opens its own file
    description, and flock locks belong to the description.
    """

    def __init__(
        self, directory: Path, slots: int | None = None, *, wait_limit: float = WAIT_LIMIT
    ) -> None:
        self.directory = Path(directory)
        self.slots = max(1, slots if slots is not None else usable_cpus())
        self.wait_limit = wait_limit
        self._lock = threading.Lock()
        self._dir_fd: int | None = None
        self._unusable = False
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return f"CpuGate({str(self.directory)!r}, slots={self.slots})"

    # ------------------------------------------------------------------ the folder
    def _folder(self) -> int | None:
        """The open slot folder, made on first use; None when it cannot be used."""
        with self._lock:
            if self._dir_fd is None and not self._unusable:
                try:
                    self._dir_fd = _open_private_folder(self.directory)
                except OSError as exc:
                    self._unusable = True
                    self._warn("unusable", exc)
            return self._dir_fd

    def _warn(self, what: str, exc: OSError | None = None) -> None:
        """One log line per kind of trouble per process: the folder and the error's name only."""
        if what in self._warned:
            return
        self._warned.add(what)
        reason = "" if exc is None else f" ({_error_name(exc)})"
        if what == "timeout":
            log.warning(
                "argon2 gate: no slot in %s free after %.0f s; hashing without waiting",
                self.directory,
                self.wait_limit,
            )
        else:
            log.warning(
                "argon2 gate: cannot use %s%s; hashing without the gate", self.directory, reason
            )

    # ------------------------------------------------------------------ a slot
    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot while the body runs (or none, when the gate cannot be used)."""
        held = self._acquire()
        try:
            yield
        finally:
            if held is not None:
                os.close(held)  # closing the description releases its flock

    def _acquire(self) -> int | None:
        dir_fd = self._folder()
        if dir_fd is None:
            return None
        order = list(range(self.slots))
        random.shuffle(order)  # spread the waiters over the slots
        try:
            fds = [_open_slot(dir_fd, k) for k in order]
        except OSError as exc:
            self._warn("slot", exc)
            return None
        # Every slot without blocking first: a free one is taken at once.
        for i, fd in enumerate(fds):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            except OSError as exc:
                _close_all(fds)
                self._warn("slot", exc)
                return None
            _close_all(fds[:i] + fds[i + 1 :])
            return fd
        # All taken: sleep in flock on one of them (the first of the shuffled order).
        _close_all(fds[1:])
        return self._wait_for(fds[0])

    def _wait_for(self, fd: int) -> int | None:
        """Block on `fd`'s slot in a helper thread, so that the wait can end after
        `wait_limit` seconds; an abandoned helper drops the slot as soon as it gets it."""
        done = threading.Event()
        state: dict[str, object] = {"abandoned": False, "error": None}
        guard = threading.Lock()

        def wait() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                state["error"] = exc
            with guard:
                if state["abandoned"] or state["error"] is not None:
                    os.close(fd)
                done.set()

        helper = threading.Thread(target=wait, name="argon2-gate-wait", daemon=True)
        helper.start()
        try:
            done.wait(self.wait_limit)
        except BaseException:  # interrupted while waiting: leave nothing held
            with guard:
                if done.is_set():
                    if state["error"] is None:
                        os.close(fd)
                else:
                    state["abandoned"] = True
            raise
        with guard:
            gave_up = not done.is_set()
            if gave_up:
                state["abandoned"] = True  # the helper drops the slot when it gets it
        if gave_up:
            self._warn("timeout")
            return None
        error = state["error"]
        if isinstance(error, OSError):
            self._warn("slot", error)
            return None
        return fd


def _open_private_folder(path: Path) -> int:
    """Open (making it if needed) a folder only this user can enter; refuse anything else.

    Slot files are flock-ed through any descriptor, read-only ones included: a folder another
    user can enter would let them hold every slot and stall every sign-in.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "owned by another user")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_slot(dir_fd: int, k: int) -> int:
    fd = os.open(f"slot-{k}", _OPEN_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "not a file of this user")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _error_name(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    return f"{exc.__class__.__name__} {name}".strip()
