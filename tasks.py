#!/usr/bin/env python3
"""Project tasks needing only Python 3.11+: `python3 tasks.py demo` and `python3 tasks.py test`.

Both create `.venv` on first use and keep it in step with pyproject.toml; before pip runs, the
C headers python-ldap builds against (OpenLDAP, Cyrus SASL) are installed when missing. `test`
also makes sure the system programs the end-to-end tests drive are installed (OpenSSH server,
PostgreSQL server, OpenLDAP server and tools, Chromium, tmux), installing them with apt-get when
run as root, and fails loudly otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".kiosk-installed"

# program that must exist -> Debian package that provides it
SYSTEM_PROGRAMS = {
    "/usr/sbin/sshd": "openssh-server",
    "ssh": "openssh-client",
    "initdb": "postgresql",
    "chromium": "chromium",
    "tmux": "tmux",
    "mount": "mount",  # the full-disk tests mount a tiny tmpfs
    "oathtool": "oathtool",  # an independent TOTP implementation makes the clock-drift codes
    "/usr/sbin/slapd": "slapd",  # the directory tests start their own OpenLDAP server
    "ldapadd": "ldap-utils",
    "systemd-analyze": "systemd",  # verifies the systemd units shipped under deploy/
    # the handout tests print names like "Łukasz" in DejaVu (core PDF fonts are Latin-1 only)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf": "fonts-dejavu-core",
}

# file that must exist -> Debian package that provides it: python-ldap has no Linux wheels on
# PyPI, so pip compiles it against these headers.
BUILD_FILES = {
    "/usr/include/ldap.h": "libldap2-dev",
    "/usr/include/sasl/sasl.h": "libsasl2-dev",
}

# Debian's slapd package would otherwise make a database of its own and start the system
# service; the tests only ever run private servers from a temporary folder.
DEBCONF_ANSWERS = {"slapd": "slapd slapd/no_configuration boolean true\n"}


def say(message: str) -> None:
    print(f"[tasks] {message}", flush=True)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project (editable) with `extras`, when anything changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit("kiosk needs Python 3.11 or newer")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    if extras:  # the test extras include python-ldap, which pip builds from source
        ensure_build_files()
    say(f"installing kiosk{extras} into .venv (first run takes a minute)")
    subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", f"{ROOT}{extras}"],
        check=True,
    )
    STAMP.write_text(wanted)


def _have(program: str) -> bool:
    if program.startswith("/"):
        return Path(program).exists()
    if shutil.which(program):
        return True
    return program == "initdb" and any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


def _apt_install(missing: list[str], who_needs: str) -> None:
    """Install Debian packages as root, or stop with the list a person has to install."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"{who_needs} these packages: {' '.join(missing)} "
                 "(install them, e.g. with apt-get, and run again)")
    say(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    answers = "".join(DEBCONF_ANSWERS.get(pkg, "") for pkg in missing)
    if answers:
        subprocess.run(["debconf-set-selections"], input=answers.encode(), check=True, env=env)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env)


def ensure_build_files() -> None:
    """The headers and compiler pip needs to build python-ldap, unless the venv already has it."""
    if (BIN / "python").exists() and subprocess.run(
        [str(BIN / "python"), "-c", "import ldap"], capture_output=True
    ).returncode == 0:
        return
    needed = dict(BUILD_FILES)
    needed[str(Path(sysconfig.get_paths()["include"]) / "Python.h")] = "python3-dev"
    if not shutil.which("cc"):
        needed["cc"] = "gcc"
    missing = sorted({pkg for path, pkg in needed.items() if not _have(path)})
    if missing:
        _apt_install(missing, "building python-ldap (a kiosk dependency) needs")


def ensure_system_programs() -> None:
    missing = sorted({pkg for prog, pkg in SYSTEM_PROGRAMS.items() if not _have(prog)})
    if missing:
        _apt_install(missing, "the end-to-end tests need")


def demo(args: list[str]) -> int:
    ensure_venv("")
    config = str(ROOT / "config.toml")
    return subprocess.call([str(BIN / "kiosk"), "--config", config, "demo", *args])


def test(args: list[str]) -> int:
    ensure_venv("[dev]")
    ensure_system_programs()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> int:
    tasks = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print(__doc__)
        return 2
    return tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
