"""Keep one kiosk process's memory out of reach of the kiosk account's other processes.

Every SSH login of the shared kiosk account runs as the same Unix user, so without this one
session could attach a debugger to another (or read its /proc/PID/mem or environ) and pick up
the password or TOTP secret being typed there, and a crash would write all of it to a core
file. Called first thing when the kiosk starts (`kiosk.launch.main`, which every way of
starting it goes through, the sessions `kiosk serve` spawns included):

- `RLIMIT_CORE` 0, soft and hard: no core file, and the process cannot raise it again;
- on Linux `prctl(PR_SET_DUMPABLE, 0)`: not dumpable, so the kernel refuses ptrace and
  /proc/PID/{mem,environ,maps,...} to every other process of the same user (only a process
  with CAP_SYS_PTRACE, i.e. root, still can). An `exec` resets it: each process hardens itself.

Elsewhere (macOS, BSD) only the core limit applies. Failures are ignored: hardening must never
stop the kiosk from starting, and `hardening_state` lets tests and admins see what holds.
"""

from __future__ import annotations

import contextlib
import sys

PR_SET_DUMPABLE = 4  # <linux/prctl.h>
PR_GET_DUMPABLE = 3


def harden_process() -> None:
    """No core dumps, and (Linux) not dumpable: other processes of this user cannot attach."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _prctl(PR_SET_DUMPABLE, 0)


def hardening_state() -> dict[str, int | None]:
    """{'core_limit': soft limit, 'dumpable': 0/1 (None where unknown)} for this process."""
    core: int | None = None
    dumpable: int | None = None
    with contextlib.suppress(ImportError, OSError):
        import resource

        core = resource.getrlimit(resource.RLIMIT_CORE)[0]
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            dumpable = _prctl(PR_GET_DUMPABLE, 0)
    return {"core_limit": core, "dumpable": dumpable}


def _prctl(option: int, value: int) -> int:
    import ctypes  # only here: a few milliseconds, once per process

    libc = ctypes.CDLL(None, use_errno=True)
    result = int(libc.prctl(option, value, 0, 0, 0))
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "prctl failed")
    return result
