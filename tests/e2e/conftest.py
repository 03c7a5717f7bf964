"""End-to-end fixtures: the installed `kiosk` command, a private OpenSSH server, a browser.

Everything here is the real component: the `kiosk` console script from the venv, OpenSSH's own
`sshd` started on a loopback port with its own host key and config (never the system's sshd
service), PostgreSQL from tests/conftest.py, Debian's `chromium`. A missing component fails the
test loudly. Every process started here is bounded in time and stopped by a finalizer.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest

from tests.conftest import make_settings, write_config
from tests.support import qr_decode
from tests.support.slapd import (  # noqa: F401 - the OpenLDAP fixtures, for every e2e test
    directory_settings,
    slapd_pki,
    slapd_server,
    start_slapd,
)
from tests.support.terminal import DARK, ENTER, SPACE, TAB, Terminal, Theme

KIOSK = Path(sys.executable).with_name("kiosk")
SSHD = "/usr/sbin/sshd"
DBDUMP = Path(__file__).with_name("dbdump.py")
LOGIN_USER = "kiosk-e2e"  # the dedicated, unprivileged account the SSH tests log in as (root runs)
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox"}
SCREEN_TIMEOUT = 45.0  # a loaded 2-core CI machine starting Python + Textual


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.1)
    return False


def require_program(path: str, package: str) -> str:
    found = path if path.startswith("/") and Path(path).exists() else shutil.which(path)
    if not found:
        pytest.fail(
            f"{path} is missing (apt-get install {package}); the end-to-end tests need "
            "the real program",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def kiosk_command() -> Path:
    """The installed console script, as a person or sshd would run it."""
    if not KIOSK.exists():
        pytest.fail(
            f"the kiosk command is not installed at {KIOSK} (pip install -e .)", pytrace=False
        )
    return KIOSK


# ------------------------------------------------------------------------------- a site
@dataclass
class Site:
    """One kiosk installation: a folder with config.toml, key file, log (and SQLite file)."""

    root: Path
    config: Path
    url: str
    owner: str | None = None  # run the kiosk as this account (None: the test's own user)
    passwords: dict[str, str] = field(default_factory=dict)

    def _as_owner(self, argv: list[str]) -> list[str]:
        if self.owner is None or self.owner == pwd.getpwuid(os.geteuid()).pw_name:
            return argv
        return ["runuser", "-u", self.owner, "--", *argv]

    def cli(
        self, *args: str, input: str | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """The installed `kiosk` command on this site, as the site's account."""
        env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "KIOSK_SECRET_KEY")}
        result = subprocess.run(
            self._as_owner([str(KIOSK), "--config", str(self.config), *args]),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env=env,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"kiosk {' '.join(args)} failed ({result.returncode}): {result.stderr}",
                pytrace=False,
            )
        return result

    def add_user(self, email: str, password: str) -> None:
        self.cli("users", "add", email, "--password-stdin", input=password + "\n")
        self.passwords[email] = password

    def users(self) -> dict[str, dict[str, object]]:
        rows = json.loads(self.cli("users", "list", "--json").stdout)
        return {row["email"]: row for row in rows}

    def audit(self) -> list[dict[str, str]]:
        out = self.cli("audit", "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def dump(self) -> dict[str, list[list[str]]]:
        """Every row of every table (read as the site's account)."""
        result = subprocess.run(
            self._as_owner([sys.executable, str(DBDUMP), self.url]),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
        )
        if result.returncode != 0:
            pytest.fail(f"could not dump the database: {result.stderr}", pytrace=False)
        data: dict[str, list[list[str]]] = json.loads(result.stdout)
        return data

    def run_argv(self, mode: str) -> list[str]:
        return self._as_owner([str(KIOSK), "--config", str(self.config), "run", "--mode", mode])


def _make_site_dir(owner: str | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="kiosk-e2e-site-"))
    root.chmod(0o755)
    if owner is not None and os.geteuid() == 0:
        shutil.chown(root, owner, owner)
    return root


@pytest.fixture
def make_site(kiosk_command: Path) -> Iterator[Callable[..., Site]]:
    """Factory: a fresh site on SQLite (default) or on the given database URL."""
    roots: list[Path] = []

    def make(url: str | None = None, owner: str | None = None, **sections: object) -> Site:
        root = _make_site_dir(owner)
        roots.append(root)
        db_url = url or f"sqlite:///{root / 'kiosk.db'}"
        settings = make_settings(root, db_url, **sections)
        config = write_config(root / "config.toml", settings)
        if owner is not None and os.geteuid() == 0:
            shutil.chown(config, owner, owner)
        return Site(root=root, config=config, url=db_url, owner=owner)

    yield make
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def terminals() -> Iterator[Callable[..., Terminal]]:
    """Factory for Terminals that are always closed (and their processes reaped) at the end."""
    opened: list[Terminal] = []

    def open_terminal(argv: list[str], **kwargs: object) -> Terminal:
        term = Terminal(argv, **kwargs)  # type: ignore[arg-type]
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


# ------------------------------------------------------------------------------- OpenSSH
def _ensure_login_user(home: Path) -> tuple[str, bool]:
    """The account the SSH tests log in as, and whether this session created it."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, False
    created = False
    try:
        pwd.getpwnam(LOGIN_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(home),
                "--shell",
                "/bin/sh",
                LOGIN_USER,
            ],
            check=True,
            capture_output=True,
        )
        created = True
    # Home: a folder it can enter; password field '*': no password, yet not "locked" (sshd
    # without PAM refuses even key logins to a locked '!' account).
    subprocess.run(
        ["usermod", "--home", str(home), "--password", "*", LOGIN_USER],
        check=True,
        capture_output=True,
    )
    return LOGIN_USER, created


def _can_run_kiosk(user: str) -> bool:
    probe = subprocess.run(
        ["runuser", "-u", user, "--", str(KIOSK), "--version"], capture_output=True, timeout=60
    )
    return probe.returncode == 0


@dataclass
class SshClientKey:
    root: Path
    user: str
    key: Path
    authorized_keys: Path


@pytest.fixture(scope="session")
def ssh_identity() -> Iterator[SshClientKey]:
    """A login account and a client key pair, for the whole session."""
    require_program(SSHD, "openssh-server")
    require_program("ssh", "openssh-client")
    root = Path(tempfile.mkdtemp(prefix="kiosk-e2e-ssh-"))
    root.chmod(0o755)
    user, created = _ensure_login_user(root)
    if user == LOGIN_USER and not _can_run_kiosk(user):
        # The venv's interpreter lives where this account cannot reach it (e.g. a pyenv under
        # /root): log in as root instead, with a key, over loopback. The README's deployment
        # (an `enroll` account with its own venv under /opt) was walked through by hand.
        if created:
            subprocess.run(["userdel", LOGIN_USER], capture_output=True)
            created = False
        user = "root"
        sys.stderr.write(
            f"\n[e2e] {KIOSK} is not runnable by {LOGIN_USER}: the SSH tests log in as root\n"
        )
    key = root / "client_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kiosk-e2e", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    authorized = root / "authorized_keys"
    shutil.copy(key.with_suffix(".pub"), authorized)
    authorized.chmod(0o644)
    yield SshClientKey(root=root, user=user, key=key, authorized_keys=authorized)
    if created:
        subprocess.run(["userdel", LOGIN_USER], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class SshServer:
    """A private sshd whose login account's only command is the kiosk of one site."""

    port: int
    process: subprocess.Popen[bytes]
    identity: SshClientKey
    log: Path

    def argv(self, *extra: str, tty: bool = True) -> list[str]:
        return [
            "ssh",
            "-tt" if tty else "-T",
            "-F",
            "/dev/null",
            "-p",
            str(self.port),
            "-i",
            str(self.identity.key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=20",
            *extra,
            f"{self.identity.user}@127.0.0.1",
        ]

    def session_processes(self) -> list[tuple[int, str]]:
        """(pid, command name) of every process below this sshd: the live sessions."""
        children: dict[int, list[int]] = {}
        names: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            names[int(entry.name)] = name
            children.setdefault(ppid, []).append(int(entry.name))
        found: list[tuple[int, str]] = []
        todo = list(children.get(self.process.pid, []))
        while todo:
            pid = todo.pop()
            found.append((pid, names.get(pid, "?")))
            todo.extend(children.get(pid, []))
        return found

    def shells(self) -> list[tuple[int, str]]:
        return [(pid, name) for pid, name in self.session_processes() if name in SHELLS]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def sshd_config_text(port: int, root: Path, identity: SshClientKey, match_block: str) -> str:
    """A private server: loopback, its own host key, keys only, no PAM; then the kiosk's block."""
    return f"""# private sshd for the kiosk end-to-end tests
Port {port}
ListenAddress 127.0.0.1
HostKey {root / "host_key"}
PidFile {root / "sshd.pid"}
UsePAM no
StrictModes no
AuthorizedKeysFile {identity.authorized_keys}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin {"prohibit-password" if identity.user == "root" else "no"}
AllowUsers {identity.user}
LogLevel VERBOSE
PrintMotd no
PrintLastLog no
Banner none

{match_block}"""


@pytest.fixture
def start_sshd(ssh_identity: SshClientKey) -> Iterator[Callable[[Site], SshServer]]:
    """Start a private sshd whose Match block is `kiosk ssh-config` for the site's install."""
    servers: list[SshServer] = []
    roots: list[Path] = []

    def start(site: Site) -> SshServer:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        root = Path(tempfile.mkdtemp(prefix="kiosk-e2e-sshd-"))
        roots.append(root)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")],
            check=True,
            capture_output=True,
        )
        # The block the README tells an admin to install, printed by the installed command.
        match_block = site.cli("ssh-config", "--user", ssh_identity.user).stdout
        port = free_port()
        config = root / "sshd_config"
        config.write_text(sshd_config_text(port, root, ssh_identity, match_block))
        test = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
        if test.returncode != 0:
            pytest.fail(
                f"sshd rejects the config: {test.stderr}\n{config.read_text()}", pytrace=False
            )
        log = root / "sshd.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = SshServer(port=port, process=process, identity=ssh_identity, log=log)
        servers.append(server)
        if not wait_for_port(port, 30, lambda: process.poll() is None):
            pytest.fail(f"private sshd did not start: {server.log_text()}", pytrace=False)
        return server

    yield start
    for server in servers:
        sessions = server.session_processes()  # own sessions (setsid): found while sshd lives
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)
        for pid, _name in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------- a person
RECOVERY_RE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{5}(?:-[0-9A-HJKMNP-TV-Z]{5}){2,}\b")


@dataclass
class Enrollment:
    uri: str
    secret: str
    recovery_code: str


def decode_qr_uri(term: Terminal, theme: Theme = DARK) -> str:
    """Rebuild the QR from the terminal's cells (default colours painted as `theme` paints
    them), check it has a light quiet zone around it, and decode it: the otpauth URI."""
    cells = term.cells(theme)
    found = qr_decode.find_qr(cells)
    assert found is not None, f"no whole QR code on the screen ({theme.name} theme):\n{term.dump()}"
    assert found.min_quiet_zone >= 2, f"QR quiet zone {found.quiet_zone} ({theme.name} theme)"
    uri = qr_decode.decode_matrix(found.matrix)
    assert uri and uri.startswith("otpauth://totp/"), f"QR decoded to {uri!r}\n{term.dump()}"
    return uri


def secret_of(uri: str) -> str:
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP), uri
    return str(totp.secret)


class Person:
    """Someone at the terminal following the vendor's printed guide, by keyboard alone."""

    def __init__(self, term: Terminal, email: str, password: str) -> None:
        self.term = term
        self.email = email
        self.password = password
        self.last_code_at: float | None = None

    def sign_in(self) -> None:
        t = self.term
        t.wait_for_text("Sign in", SCREEN_TIMEOUT)
        t.wait_for_text("Email", SCREEN_TIMEOUT)
        t.wait_for_quiet()
        t.send(self.email)
        t.wait_for_text(self.email, 10)
        self.tab_to_password()
        t.send(self.password)
        t.send(ENTER)

    def tab_to_password(self) -> None:
        """Tab, then wait until the Password field shows the focus (its colours change).

        Textual hands a key to the widget focused when the key is read: characters read
        before the Tab has moved the focus would land in Email (as a fast auto-typer's do)."""
        t = self.term
        y = next((i for i, line in enumerate(t.screen.display) if "▊  Password" in line), None)
        assert y is not None, f"no Password field on screen:\n{t.dump()}"
        x = t.screen.display[y].index("▊  Password") + 3
        self._send_and_wait_for_focus(TAB, y, x, "Password")

    def create_password(self, new_password: str) -> None:
        """Create Your Password: type it, Enter, wait until the second field has the focus
        (the same reason as `tab_to_password`), type it again, Enter."""
        t = self.term
        t.wait_for_text("Type it again", SCREEN_TIMEOUT)
        t.wait_for_quiet()
        t.send(new_password)
        label = next((i for i, line in enumerate(t.screen.display) if "Type it again" in line))
        y = label + 2  # the middle line of the field under the label
        x = t.screen.display[y].index("▊") + 2
        self._send_and_wait_for_focus(ENTER, y, x, "Type it again")
        t.send(new_password)
        t.send(ENTER)

    def _send_and_wait_for_focus(self, key: str, y: int, x: int, field: str) -> None:
        """Send `key`, then wait until the cell (x, y) inside `field` changes colour: the
        field shows the focus, so keys sent from now on land in it."""
        t = self.term
        unfocused = t.screen.buffer[y][x].bg
        t.send(key)
        t.wait_until(lambda: t.screen.buffer[y][x].bg != unfocused, 10, f"focus in {field}")

    def reach_qr(self) -> None:
        """Sign in → Two-Factor Authentication Required → Select a Method → Secure your Account."""
        self.sign_in()
        self.set_up_now()

    def set_up_now(self) -> None:
        """From Two-Factor Authentication Required to Secure your Account."""
        t = self.term
        t.wait_for_text("Two-Factor Authentication Required", SCREEN_TIMEOUT)
        t.wait_for_text("Set Up Now", 10)
        t.wait_for_quiet()
        t.send(ENTER)
        t.wait_for_text("Select an Authentication Method", SCREEN_TIMEOUT)
        t.wait_for_text("Authenticator App", 10)
        t.wait_for_quiet()
        t.send(ENTER)
        t.wait_for_text("Secure your Account", SCREEN_TIMEOUT)
        t.wait_for_text("Trouble Scanning?", 10)
        t.wait_for_quiet()

    def scan(self, theme: Theme = DARK) -> str:
        """Read the QR off the screen as a phone would: the otpauth URI."""
        return decode_qr_uri(self.term, theme)

    def code(self, secret: str, *, ahead: int = 0) -> str:
        """The app's code now (`ahead` steps later: the next code is inside the ±1 window)."""
        at = time.time() + 30 * ahead
        self.last_code_at = at
        return pyotp.TOTP(secret).at(at)

    def finish_enrollment(self, secret: str) -> str:
        """From Secure your Account: Continue, the code, save the recovery code; returns it."""
        t = self.term
        t.send(ENTER)  # Continue (the screen's primary button has the focus)
        t.wait_for_text("6-digit code", SCREEN_TIMEOUT)
        t.wait_for_quiet()
        t.send(self.code(secret))
        t.send(ENTER)
        t.wait_for_text("Save Your Recovery Code", SCREEN_TIMEOUT)
        t.wait_for_text("I Have Securely Saved This Code", 10)
        t.wait_for_quiet()
        found = RECOVERY_RE.findall(t.screen_text())
        assert len(found) == 1, f"expected one recovery code on screen:\n{t.dump()}"
        self.tick_saved_and_continue()
        t.wait_for_text("You're signed in with your authenticator app", SCREEN_TIMEOUT)
        return str(found[0])

    def tick_saved_and_continue(self) -> None:
        t = self.term
        for key in SAVE_SCREEN_KEYS:
            t.send_and_wait_for_change(key)

    def enroll(self, theme: Theme = DARK) -> Enrollment:
        self.reach_qr()
        uri = self.scan(theme)
        secret = secret_of(uri)
        recovery = self.finish_enrollment(secret)
        return Enrollment(uri=uri, secret=secret, recovery_code=recovery)

    def sign_in_with_code(self, secret: str) -> None:
        """A returning person: Sign in → Enter the 6-digit code (the next one) → Signed in."""
        t = self.term
        self.sign_in()
        t.wait_for_text("6-digit code", SCREEN_TIMEOUT)
        t.wait_for_quiet()
        t.send(self.code(secret, ahead=1))
        t.send(ENTER)
        t.wait_for_text("You're signed in with your authenticator app", SCREEN_TIMEOUT)


# Keys on "Save Your Recovery Code" from the first focus (Copy): past Show as QR to the
# checkbox, tick it, on to Continue (enabled once ticked), press it.
SAVE_SCREEN_KEYS: list[str] = [TAB, TAB, SPACE, TAB, ENTER]
