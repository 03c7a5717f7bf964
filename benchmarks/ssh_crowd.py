"""A room over real SSH: N people connect within a second and sign in to the code screen.

    .venv/bin/python benchmarks/ssh_crowd.py [--sessions 100] [--lone 3] [--default-maxstartups]

A private OpenSSH server on a loopback port (its own host key and config; never the system's
sshd) with the README's settings: the global lines of deploy/sshd_config.d/00-kiosk-room.conf
(MaxStartups for a room) and the Match block `kiosk ssh-config` prints (ForceCommand
`python -I -m kiosk ... run --mode ssh`). It logs in the account running this script with a key
made for the run; the accounts of the kiosk (SQLite, default argon2) are made and enrolled
beforehand, so that a right password leads to "Enter the 6-digit code".

Rounds, all through the same sshd:
- lone sessions, before and after the crowd: one `ssh -tt` at a time (the reference);
- the crowd: N `ssh -tt` clients in 80×24 ptys, spawned evenly within one second while sshd's
  listener is paused (SIGSTOP; the connections queue in its listen backlog, and it meets them all
  at once on SIGCONT: the clients run on this machine too, and sessions already starting would
  otherwise slow the spawning of the rest past the second). Each client's
  clock runs from its own spawn to "Sign in" with the Email field on its screen. When every
  session is at Sign in (or has failed), the memory of every session is read; then all sign in
  at once (email, Tab, password, Enter — as a room told "go" would) and each clock runs from its
  Enter to the code screen: the argon2 gate's queue (kiosk/core/cpu_gate.py), whose waiters are
  counted from /proc/locks meanwhile. Then ctrl+c ends every session.
- the floor: N copies of benchmarks/baseline_app.py (one Static) in ptys, spawned the same way,
  and one alone; their memory is read the same way.

Memory is PSS (proportional set size, /proc/PID/smaps_rollup): pages shared by several
processes are divided among them, so N sessions' PSS adds up to what they cost the machine.
Counted: dropped (the connection ended before Sign in), errors (anything else that went wrong,
timeouts included). Bounded: at most 300 sessions, every wait has a deadline, everything started
here is stopped at the end, loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pwd
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import _common as c

SSHD = "/usr/sbin/sshd"
ROOM_CONF = c.REPO / "deploy" / "sshd_config.d" / "00-kiosk-room.conf"
MAX_SESSIONS = 300
CODE_SCREEN = "6-digit code"
TAB, ENTER, CTRL_C = "\t", "\r", "\x03"
PHASE_TIMEOUT = 240.0  # seconds for each phase of a round (every session's wait ends by then)


# ------------------------------------------------------------------------------- the server
@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    root: Path
    user: str
    key: Path

    def client_argv(self) -> list[str]:
        return [
            "ssh", "-tt", "-F", "/dev/null", "-p", str(self.port), "-i", str(self.key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=60", f"{self.user}@127.0.0.1",
        ]

    def log(self) -> str:
        path = self.root / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client_priority(pid: int) -> None:
    """A client: after this script, before the server's side (see main). Set from here, after
    the start: a preexec function would make every spawn a full fork of this process."""
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, -10)


def _normal_priority() -> None:
    """sshd and the sessions run at the priority a real server gives them (nice 0)."""
    os.setpriority(os.PRIO_PROCESS, 0, 0)


def start_server(config: Path, *, room_settings: bool) -> Server:
    """sshd on 127.0.0.1 with the room file's global lines and `kiosk ssh-config`'s block."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    root = c.temp_folder("ssh-crowd-sshd")
    root.chmod(0o755)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)],
                       check=True, capture_output=True)
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    block = subprocess.run(
        [str(c.KIOSK), "--config", str(config), "ssh-config", "--user", user],
        check=True, capture_output=True, text=True,
    ).stdout
    room = ROOM_CONF.read_text() if room_settings else "# sshd's default MaxStartups\n"
    port = _free_port()
    text = f"""Port {port}
ListenAddress 127.0.0.1
HostKey {root / "host_key"}
PidFile {root / "sshd.pid"}
UsePAM no
StrictModes no
AuthorizedKeysFile {root / "authorized_keys"}
PubkeyAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin {"prohibit-password" if user == "root" else "no"}
AllowUsers {user}
LogLevel INFO
PrintMotd no
PrintLastLog no
{room}
{block}"""
    (root / "sshd_config").write_text(text)
    check = subprocess.run([SSHD, "-t", "-f", str(root / "sshd_config")],
                           capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"sshd rejects the config: {check.stderr.strip()}")
    with open(root / "sshd.log", "wb") as log:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_normal_priority)
    server = Server(port, process, root, user, root / "client_key")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return server
        time.sleep(0.1)
    server.stop()
    sys.exit(f"the private sshd did not start: {server.log()}")


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process below `pid`."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        names[int(entry.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append((child, names.get(child, "?")))
        todo.extend(children.get(child, []))
    return found


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU a live process has used so far (with `reaped`, also its children
    that ended and were waited for: sshd's pre-authentication process of each connection)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


# ------------------------------------------------------------------------------- a client
@dataclass
class Client:
    """One person at an `ssh -tt` in an 80×24 pty; the screen painted by pyte when needed."""

    argv: list[str]
    email: str = ""
    spawned: float = 0.0
    sign_in_at: float | None = None
    submitted_at: float | None = None
    code_at: float | None = None
    ended: bool = False
    error: str = ""
    raw: bytearray = field(default_factory=bytearray)
    fed: int = 0
    last_output: float = 0.0
    dirty: bool = False
    spawn_took: float = 0.0

    def prepare(self) -> None:
        """The pty (80×24) and the screen, made before the clock of the round starts."""
        import pyte

        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", c.LINES, c.COLUMNS, 0, 0))
        self.screen = pyte.Screen(c.COLUMNS, c.LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.env = c.clean_env()

    def spawn(self) -> None:
        """The program on the pty, started by vfork (cheap even when the machine is loaded, so
        that N clients really start within the second). ssh -tt needs a terminal on its stdin,
        not a controlling terminal."""
        if not hasattr(self, "slave"):
            self.prepare()
        self.spawned = time.perf_counter()
        self.process = subprocess.Popen(self.argv, stdin=self.slave, stdout=self.slave,
                                        stderr=self.slave, env=self.env, start_new_session=True)
        os.close(self.slave)  # the client holds the only copy: its exit gives EIO here
        self.spawn_took = time.perf_counter() - self.spawned
        _client_priority(self.process.pid)

    @property
    def fd(self) -> int:
        return self.master

    def read(self) -> None:
        """Whatever the pty has now; EOF (EIO on Linux) marks the client ended."""
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return
        self.raw += data
        self.dirty = True
        self.last_output = time.perf_counter()

    def text(self) -> str:
        """The screen as a person sees it (pyte fed only now: cheap while nobody looks)."""
        if self.fed < len(self.raw):
            self.stream.feed(bytes(self.raw[self.fed :]))
            self.fed = len(self.raw)
        return "\n".join(self.screen.display)

    def changed(self) -> bool:
        """Whether output came since the last call: screens are read only when they changed."""
        dirty, self.dirty = self.dirty, False
        return dirty

    def send(self, keys: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, keys.encode())

    def close(self) -> None:
        process = getattr(self, "process", None)
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGHUP)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        with contextlib.suppress(OSError):
            os.close(self.master)
        self.process = None


def spawn_evenly(clients: list[Client], start: float, spread: float) -> None:
    """Spawn the clients evenly within `spread` seconds from `start`, reading nothing meanwhile:
    what the first ones write waits in their ptys (read right after; the clocks stop at the read
    that shows the screen, so a late read can only make a time longer, never shorter)."""
    for cl in clients:
        cl.prepare()
    start = max(start, time.perf_counter())
    for i, cl in enumerate(clients):
        delay = start + spread * i / max(1, len(clients)) - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        cl.spawn()


def pump(clients: list[Client], until: Callable[[], bool], deadline: float,
         tick: Callable[[], None] | None = None) -> None:
    """Read every live client's pty until `until()` or the deadline; `tick` between reads."""
    while not until() and time.perf_counter() < deadline:
        live = {cl.fd: cl for cl in clients if cl.spawned and not cl.ended}
        if not live:
            return
        wait = max(0.0, min(0.05, deadline - time.perf_counter()))
        ready, _, _ = select.select(list(live), [], [], wait)
        for fd in ready:
            live[fd].read()
        if tick:
            tick()


# ------------------------------------------------------------------------------- walking
def password_focus_cell(cl: Client) -> tuple[int, int] | None:
    for y, line in enumerate(cl.screen.display):
        if "▊  Password" in line:
            return y, line.index("▊  Password") + 3
    return None


class Walk:
    """Email, Tab (wait for the focus to show in Password), password, Enter; then the code
    screen. One step per call of `advance`, never blocking: many clients walk together."""

    def __init__(self, cl: Client, password: str) -> None:
        self.cl, self.password = cl, password
        self.state = "type email"
        self.cell: tuple[int, int] | None = None
        self.unfocused = ""

    def advance(self) -> None:
        cl = self.cl
        if cl.ended and self.state != "done":
            cl.error = cl.error or f"connection ended at step '{self.state}'"
            self.state = "done"
            return
        if self.state == "type email":
            cl.send(cl.email)
            self.state = "email echoed"
        elif self.state == "email echoed" and cl.changed() and cl.email in cl.text():
            self.cell = password_focus_cell(cl)
            if self.cell is None:
                cl.error, self.state = "no Password field on screen", "done"
                return
            y, x = self.cell
            self.unfocused = cl.screen.buffer[y][x].bg
            cl.send(TAB)
            self.state = "focus in password"
        elif self.state == "focus in password" and cl.changed():
            assert self.cell is not None
            y, x = self.cell
            cl.text()
            if cl.screen.buffer[y][x].bg != self.unfocused:
                cl.send(self.password + ENTER)
                cl.submitted_at = time.perf_counter()
                self.state = "code screen"
        elif self.state == "code screen" and cl.changed() and CODE_SCREEN in cl.text():
            cl.code_at = time.perf_counter()
            self.state = "done"


def at_sign_in(cl: Client) -> bool:
    """Cheap check on the raw stream first, then the screen (pyte) to be sure."""
    if b"Sign in" not in cl.raw or b"Email" not in cl.raw:
        return False
    return c.sign_in_visible(cl.text())


# ------------------------------------------------------------------------------- locks
def gate_waiters(slot_folder: Path) -> tuple[int, int]:
    """(holders, blocked waiters) of the argon2 gate's slot files, from /proc/locks."""
    try:
        inodes = {str(os.stat(p).st_ino) for p in slot_folder.iterdir()}
    except OSError:
        return 0, 0
    holders = waiters = 0
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if "FLOCK" not in parts:
            continue
        inode = parts[parts.index("FLOCK") + 4].rsplit(":", 1)[-1]
        if inode in inodes:
            if "->" in parts:
                waiters += 1
            else:
                holders += 1
    return holders, waiters


# ------------------------------------------------------------------------------- rounds
@dataclass
class Round:
    clients: list[Client]
    elapsed_sign_in: float = 0.0
    session_pss: list[int] = field(default_factory=list)  # KiB, kiosk processes
    whole_pss: int = 0  # KiB, every process below sshd (sshd's per-session processes included)
    kiosk_threads: list[int] = field(default_factory=list)
    kiosk_cpu: list[float] = field(default_factory=list)  # each kiosk's CPU up to Sign in
    sshd_cpu: float = 0.0  # the sshd processes of the sessions, up to Sign in, all together
    kernel_threads_cpu: float = 0.0  # kernel threads (page reclaim, workqueues...) meanwhile
    others_cpu: float = 0.0  # other people's processes alive at the end of the round
    sessions_cpu: float = 0.0  # every process below sshd, at the code screen, all together
    idle_cpu_per_s: float = 0.0  # CPU-s per second of every session sitting at Sign in
    tasks_below_sshd: int = 0
    gate_samples: list[tuple[float, int, int]] = field(default_factory=list)
    cpu_busy: float = 0.0
    cpu_total: float = 0.0
    harness_cpu: float = 0.0  # this script's own CPU during the round
    clients_cpu: float = 0.0  # the ssh clients' CPU (reaped children)

    def sign_in_times(self) -> list[float]:
        return [cl.sign_in_at - cl.spawned for cl in self.clients if cl.sign_in_at]

    def code_times(self) -> list[float]:
        return [cl.code_at - cl.submitted_at for cl in self.clients
                if cl.code_at and cl.submitted_at]


def cpu_by_owner() -> dict[int, tuple[float, bool]]:
    """Every live process: (CPU seconds so far, whether it is a kernel thread)."""
    found: dict[int, tuple[float, bool]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            found[int(entry.name)] = (
                (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
                fields[1] == "2" or entry.name == "2",
            )
    return found


def machine_busy() -> tuple[float, float]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - fields[3] - fields[4]) / ticks, sum(fields[:8]) / ticks


def kiosk_processes(server: Server) -> list[int]:
    return [pid for pid, name in descendants(server.process.pid) if name.startswith("python")]


def run_sessions(server: Server, emails: list[str], *, spread: float, password: str,
                 slot_folder: Path, settle: float = 1.0) -> Round:
    """Spawn one client per email within `spread` seconds; all to Sign in; memory; all sign in
    together; all to the code screen; ctrl+c; every client ended."""
    clients = [Client(server.client_argv(), email=e) for e in emails]
    rnd = Round(clients)
    self0, children0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    others0 = cpu_by_owner()
    busy0 = machine_busy()
    start = time.perf_counter()
    try:
        # The listener waits while the clients start (their connections queue in its listen
        # backlog): this machine also runs the clients, and sessions already starting would
        # slow the spawning of the rest past the second. Then sshd meets them all at once.
        paused = len(clients) > 1
        if paused:
            os.kill(server.process.pid, signal.SIGSTOP)
        try:
            spawn_evenly(clients, start, spread)
        finally:
            if paused:
                os.kill(server.process.pid, signal.SIGCONT)

        def all_at_sign_in() -> bool:
            for cl in clients:
                if cl.sign_in_at is None and not cl.ended and cl.changed() and at_sign_in(cl):
                    cl.sign_in_at = cl.last_output
            return all(cl.sign_in_at or cl.ended for cl in clients)

        pump(clients, all_at_sign_in, start + PHASE_TIMEOUT)
        rnd.elapsed_sign_in = time.perf_counter() - start
        for cl in clients:
            if cl.sign_in_at is None:
                cl.error = "dropped" if cl.ended else "Sign in not reached in time"
        # Settle (every screen drawn), then read the memory of the sessions as they sit there,
        # and what they cost while nobody types (cursor blink, timers): CPU over `settle` s.
        pump(clients, lambda: False, time.perf_counter() + settle)
        idle0 = {pid: cpu_seconds(pid) for pid, _ in descendants(server.process.pid)}
        idle_start = time.perf_counter()
        pump(clients, lambda: False, idle_start + settle)
        rnd.idle_cpu_per_s = sum(
            cpu_seconds(pid) - before for pid, before in idle0.items()
        ) / (time.perf_counter() - idle_start)
        pids = kiosk_processes(server)
        rnd.session_pss = [pss_kib(pid) for pid in pids]
        rnd.kiosk_threads = [threads(pid) for pid in pids]
        rnd.kiosk_cpu = [cpu_seconds(pid) for pid in pids]
        below = descendants(server.process.pid)
        rnd.sshd_cpu = sum(cpu_seconds(pid, reaped=True) for pid, name in below
                           if name.startswith("sshd"))
        rnd.whole_pss = sum(pss_kib(pid) for pid, _ in below)
        rnd.tasks_below_sshd = sum(threads(pid) for pid, _ in below)

        walkers = [Walk(cl, password) for cl in clients if cl.sign_in_at and not cl.ended]
        t0 = time.perf_counter()

        def tick() -> None:
            for walk in walkers:
                if walk.state != "done":
                    walk.advance()
            holders, waiters = gate_waiters(slot_folder)
            rnd.gate_samples.append((time.perf_counter() - t0, holders, waiters))

        pump(clients, lambda: all(w.state == "done" for w in walkers),
             time.perf_counter() + PHASE_TIMEOUT, tick)
        for walk in walkers:
            if walk.state != "done":
                walk.cl.error = walk.cl.error or f"stuck at step '{walk.state}'"
        rnd.sessions_cpu = sum(cpu_seconds(pid, reaped=True)
                               for pid, _ in descendants(server.process.pid))
        for cl in clients:
            if cl.code_at is None and not cl.error:
                cl.error = "code screen not reached"
            cl.send(CTRL_C)  # ssh mode: ctrl+c ends the session
        pump(clients, lambda: all(cl.ended for cl in clients), time.perf_counter() + 60)
        busy1 = machine_busy()
        rnd.cpu_busy, rnd.cpu_total = busy1[0] - busy0[0], busy1[1] - busy0[1]
        ours = {os.getpid(), server.process.pid} | {pid for pid, _ in descendants(os.getpid())}
        for pid, (cpu, kernel) in cpu_by_owner().items():
            if pid in ours:
                continue
            spent = cpu - others0.get(pid, (0.0, kernel))[0]
            if kernel:
                rnd.kernel_threads_cpu += spent
            else:
                rnd.others_cpu += spent
    finally:
        for cl in clients:
            cl.close()
    rnd.harness_cpu = _cpu(resource.RUSAGE_SELF) - self0
    rnd.clients_cpu = _cpu(resource.RUSAGE_CHILDREN) - children0
    return rnd


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_baseline(count: int, spread: float, settle: float = 1.0) -> tuple[list[int], list[float]]:
    """`count` one-Static apps in ptys spawned within `spread` s: (PSS KiB each, start times)."""
    clients = [Client(c.baseline_argv()) for _ in range(count)]
    start = time.perf_counter()
    try:
        spawn_evenly(clients, start, spread)

        def all_ready() -> bool:
            for cl in clients:
                if cl.sign_in_at is None and c.BASELINE_TEXT.encode() in cl.raw:
                    cl.sign_in_at = cl.last_output
            return all(cl.sign_in_at or cl.ended for cl in clients)

        pump(clients, all_ready, start + PHASE_TIMEOUT)
        pump(clients, lambda: False, time.perf_counter() + settle)
        pss = [pss_kib(cl.process.pid) for cl in clients if cl.sign_in_at and not cl.ended]
        times = [cl.sign_in_at - cl.spawned for cl in clients if cl.sign_in_at]
        return pss, times
    finally:
        for cl in clients:
            cl.close()


# ------------------------------------------------------------------------------- figures
def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def describe(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
            f"max {max(values):.2f} s (min {min(values):.2f} s, n={len(values)})")


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--lone", type=int, default=3, help="lone sessions before and after")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds to spawn the crowd in")
    parser.add_argument("--default-maxstartups", action="store_true",
                        help="without the room file: sshd's default MaxStartups 10:30:100")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-Static floor")
    args = parser.parse_args()
    if os.geteuid() == 0:
        # The people's SSH clients run on their own laptops: here they get the CPU before the
        # server's side (nice -10), and this script before them (nice -15), so that the crowd is
        # spawned within its second and what is measured is the server's side.
        os.nice(-15)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        sys.exit(f"--sessions must be 1..{MAX_SESSIONS}")
    for program in (SSHD, shutil.which("ssh")):
        if not program or not Path(program).exists():
            sys.exit("needs OpenSSH (apt-get install openssh-server openssh-client)")

    print("## ssh_crowd.py\n")
    print(c.machine_info())
    version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    print(f"openssh: {version}")
    load_before = c.load_average()

    folder = c.temp_folder("ssh-crowd")
    folder.chmod(0o755)
    config = c.write_config(folder, mode="ssh")  # default argon2 parameters
    service = c.open_service(config)
    total = args.sessions + 2 * args.lone
    emails = c.seed(service, total)
    for email in emails:
        c.enroll_directly(service, email)
    slot_folder = service.hasher.gate.directory if service.hasher.gate else folder / "none"
    service.close()
    server = start_server(config, room_settings=not args.default_maxstartups)
    lone_emails, crowd_emails = emails[: 2 * args.lone], emails[2 * args.lone :]
    try:
        lone: list[Round] = []
        for email in lone_emails[: args.lone]:
            lone.append(run_sessions(server, [email], spread=0, password=c.PASSWORD,
                                     slot_folder=slot_folder))
        crowd = run_sessions(server, crowd_emails, spread=args.spread, password=c.PASSWORD,
                             slot_folder=slot_folder)
        for email in lone_emails[args.lone :]:
            lone.append(run_sessions(server, [email], spread=0, password=c.PASSWORD,
                                     slot_folder=slot_folder))
        sshd_log = server.log()
    finally:
        server.stop()
        for pid, _name in descendants(server.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    baseline_crowd: list[int] = []
    baseline_lone: list[int] = []
    baseline_times: list[float] = []
    if not args.no_baseline:
        baseline_lone, baseline_times = run_baseline(1, 0)
        baseline_crowd, _ = run_baseline(args.sessions, args.spread)
    load_after = c.load_average()
    c.rmtree(folder)
    c.rmtree(server.root)

    lone_sign_in = [t for r in lone for t in r.sign_in_times()]
    lone_code = [t for r in lone for t in r.code_times()]
    lone_pss = [p for r in lone for p in r.session_pss]
    n = len(crowd.clients)
    reached = len(crowd.sign_in_times())
    dropped = sum(1 for cl in crowd.clients if cl.error == "dropped")
    errors = [cl.error for cl in crowd.clients if cl.error and cl.error != "dropped"]
    room = "without the room file (sshd's default MaxStartups 10:30:100)" if \
        args.default_maxstartups else "with deploy/sshd_config.d/00-kiosk-room.conf"
    print(f"\n### {n} sessions over SSH, spawned within {args.spread:g} s, {room}\n")
    print(f"- load average before: {load_before}; after: {load_after}")
    print(f"- reached Sign in: {reached} of {n}; dropped: {dropped}; errors: {len(errors)}"
          + (f" {sorted(set(errors))}" if errors else ""))
    print(f"- reached the code screen: {len(crowd.code_times())} of {n}")
    throttled = len(re.findall(r"drop connection|MaxStartups throttling", sshd_log))
    print(f"- sshd log lines about MaxStartups (throttling, drops): {throttled}")
    print(f"- machine during the crowd round: {crowd.cpu_busy / max(crowd.cpu_total, 1e-9):.0%}"
          f" of all CPU busy ({crowd.cpu_busy:.1f} CPU-s over {crowd.cpu_total / 2:.1f} s "
          f"of 2 cores)" if os.cpu_count() == 2 else
          f"- machine during the crowd round: {crowd.cpu_busy:.1f} CPU-s busy")
    print(f"- of which this script (ptys, screens, /proc): {crowd.harness_cpu:.1f} CPU-s; the "
          f"{n} ssh clients: {crowd.clients_cpu:.1f} CPU-s; the rest (sshd, the kiosks, other "
          f"processes): {crowd.cpu_busy - crowd.harness_cpu - crowd.clients_cpu:.1f} CPU-s, of "
          f"which the sessions (kiosks and their sshd processes, start to code screen): "
          f"{crowd.sessions_cpu:.1f} CPU-s = {crowd.sessions_cpu / max(reached, 1):.2f} each; "
          f"kernel threads {crowd.kernel_threads_cpu:.1f} CPU-s; other processes of the machine "
          f"(alive at the end; ended ones are not counted) {crowd.others_cpu:.1f} CPU-s")
    spawns = [cl.spawned for cl in crowd.clients if cl.spawned]
    took = [cl.spawn_took for cl in crowd.clients]
    print(f"- starting the clients took {sum(took):.2f} s in all (the slowest "
          f"{max(took) * 1000:.0f} ms, median {statistics.median(took) * 1000:.1f} ms)")
    print(f"- clients spawned within {max(spawns) - min(spawns):.2f} s; all {reached} at Sign in "
          f"{crowd.elapsed_sign_in:.2f} s after the first spawn")

    print("\n**Time to Sign in** (client spawn → Sign in with Email on the client's screen)\n")
    print(f"- lone session ({len(lone_sign_in)} runs, before and after): {describe(lone_sign_in)}")
    print(f"- in the crowd: {describe(crowd.sign_in_times())}")
    lone_cpu = [t for r in lone for t in r.kiosk_cpu]
    if crowd.kiosk_cpu and lone_cpu:
        cores = os.cpu_count() or 1
        per_session = statistics.median(crowd.kiosk_cpu) + crowd.sshd_cpu / max(reached, 1)
        print(f"- CPU to reach Sign in, per kiosk process: lone median "
              f"{statistics.median(lone_cpu):.2f} s, in the crowd median "
              f"{statistics.median(crowd.kiosk_cpu):.2f} s; sshd's processes "
              f"{crowd.sshd_cpu / max(reached, 1) * 1000:.0f} ms per session. {reached} sessions "
              f"× {per_session:.2f} CPU-s ÷ {cores} cores = {reached * per_session / cores:.1f} s:"
              " the least time the last session can need, with the machine to itself")
    if lone_sign_in and crowd.sign_in_times():
        ref = statistics.median(lone_sign_in)
        print(f"- crowd p50 / lone median = {percentile(crowd.sign_in_times(), .5) / ref:.1f}×; "
              f"crowd p95 / lone median = {percentile(crowd.sign_in_times(), .95) / ref:.1f}× "
              "(goal: p95 within 10×)")
    if baseline_times:
        print(f"- the one-Static app alone in a pty (no SSH): {baseline_times[0]:.2f} s")

    if crowd.idle_cpu_per_s:
        print(f"- {reached} sessions sitting at Sign in (nobody typing) use "
              f"{crowd.idle_cpu_per_s:.2f} CPU-s per second together (kiosks and their sshd "
              f"processes): {crowd.idle_cpu_per_s / max(reached, 1) * 1000:.1f} ms/s each")
    print("\n**Password to code screen** (Enter → 'Enter the 6-digit code'; all pressed at once; "
          "each sign-in is one argon2 verify behind the gate)\n")
    print(f"- lone session: {describe(lone_code)}")
    print(f"- in the crowd: {describe(crowd.code_times())}")
    busy = [s for s in crowd.gate_samples if s[1] or s[2]]
    if busy:
        span = busy[-1][0] - busy[0][0]
        print(f"- the argon2 gate: slots held at most {max(s[1] for s in busy)} at once; "
              f"waiters at most {max(s[2] for s in busy)}, mean "
              f"{statistics.mean(s[2] for s in busy):.1f} while any slot was held; gate busy "
              f"for {span:.1f} s ({len(crowd.code_times()) / max(span, 1e-9):.1f} sign-ins/s); "
              f"{len(crowd.gate_samples)} samples of /proc/locks")

    print("\n**Memory per session** (PSS from /proc/PID/smaps_rollup, at Sign in)\n")
    if crowd.session_pss:
        print(f"- kiosk process, {len(crowd.session_pss)} sessions at once: median "
              f"{mib(statistics.median(crowd.session_pss))} (min {mib(min(crowd.session_pss))}, "
              f"max {mib(max(crowd.session_pss))}); threads per kiosk process: "
              f"{sorted(set(crowd.kiosk_threads))}")
        print(f"- everything below sshd (sshd's two processes per session + the kiosk): "
              f"{mib(crowd.whole_pss)} in all = {mib(crowd.whole_pss / max(reached, 1))} per "
              f"session; {crowd.tasks_below_sshd} tasks (threads) in all")
    if lone_pss:
        print(f"- kiosk process, lone session: median {mib(statistics.median(lone_pss))}")
    if baseline_crowd:
        print(f"- one-Static app, {len(baseline_crowd)} at once: median "
              f"{mib(statistics.median(baseline_crowd))}; alone: {mib(baseline_lone[0])}"
              if baseline_lone else "")
        if crowd.session_pss:
            print(f"- kiosk / one-Static app, {args.sessions} at once: "
                  f"{statistics.median(crowd.session_pss) / statistics.median(baseline_crowd):.2f}×"
                  + (f"; alone: {statistics.median(lone_pss) / baseline_lone[0]:.2f}×"
                     if lone_pss and baseline_lone else "")
                  + " (goal: ≤ 1.25×)")


if __name__ == "__main__":
    sys.exit(main())
