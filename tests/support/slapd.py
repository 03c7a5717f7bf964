"""A real OpenLDAP server for the tests: Debian's `slapd`, started from a temporary folder.

Each server has its own slapd.conf (mdb backend; core, cosine, inetorgperson and nis schemas),
a database loaded with `slapadd` from an LDIF of people, and TLS from a CA made here with
`cryptography`. It listens on loopback only: `ldap://` (StartTLS) and `ldaps://` on free ports.
Never the system's slapd service: tasks.py installs the package without configuring it.

Fixtures (import them into a test module, or a conftest, to use them):
- `slapd_pki`: the CA, a second CA the servers do not use, the server certificate (session).
- `slapd_server`: one running server shared by the session (the slow part, made once).
- `start_slapd`: a factory for private servers a test may stop, kill or freeze.
- `directory_settings`: DirectorySettings for `slapd_server` (ldaps://, the right CA).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from kiosk.config import DirectorySettings

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
BASE_DN = "dc=example,dc=org"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUP_DN = f"cn=kiosk-users,ou=groups,{BASE_DN}"
UNIQUE_GROUP_DN = f"cn=kiosk-unique,ou=groups,{BASE_DN}"
READER_DN = f"cn=kiosk-reader,ou=services,{BASE_DN}"
READER_PASSWORD = "reader secret 42"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "admin secret 42"  # noqa: S105 - a throwaway test server


@dataclass(frozen=True)
class DirectoryPersonFixture:
    uid: str
    email: str
    password: str
    display_name: str
    member: bool = True  # of GROUP_DN

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{PEOPLE_DN}"


ADA = DirectoryPersonFixture("ada", "ada@example.org", "analytical engine 1843", "Ada Lovelace")
GRACE = DirectoryPersonFixture(
    "grace", "grace@example.org", "compiler 1952 cobol", "Grace Hopper", member=False
)
# An address with every filter special character in its local part: it must match only itself.
ODD = DirectoryPersonFixture(
    "odd", "st*r(x)\\y@example.org", "odd but valid 7", "Odd Address", member=True
)
# A display name with terminal escapes and a line break: it must reach no screen as such.
MALLORY = DirectoryPersonFixture(
    "mallory", "mallory@example.org", "mallory password 3", "\x1b[2J\x1b]0;owned\x07Mal\nlory",
    member=False,
)
# Entries shaped like Active Directory users (see AD_SCHEMA): one enabled, one disabled.
AD_USER = DirectoryPersonFixture(
    "alan", "alan@corp.example.org", "enigma 1941 bombe", "Alan Turing", member=False
)
AD_USER_MAIL = "alan.turing@example.org"
AD_DISABLED = DirectoryPersonFixture(
    "dis", "disabled@corp.example.org", "disabled account 9", "Dis Abled", member=False
)
# The few Active Directory attributes a kiosk filter uses, with the equality rules AD applies
# (Debian's msuser.schema declares them without any, so no filter could match them).
AD_SCHEMA = """
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP inetOrgPerson STRUCTURAL
    MAY ( userPrincipalName $ userAccountControl ) )
"""
# Two entries share this address: neither may sign in.
TWIN_EMAIL = "twin@example.org"
TWIN_PASSWORD = "twin password 11"
PEOPLE = (ADA, GRACE, ODD)


def people_ldif() -> str:
    """The directory's content: people, two twins, a service account and two groups."""
    blocks = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        "o: Example Org\n",
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {READER_DN}\nobjectClass: person\ncn: kiosk-reader\nsn: reader\n"
        f"userPassword: {READER_PASSWORD}\n",
    ]
    for person in (*PEOPLE, MALLORY):
        name = base64.b64encode(person.display_name.encode()).decode()
        blocks.append(
            f"dn: {person.dn}\nobjectClass: inetOrgPerson\nuid: {person.uid}\n"
            f"cn: {person.uid}\nsn: {person.uid}\ndisplayName:: {name}\n"
            f"mail: {person.email}\nuserPassword: {person.password}\n"
        )
    for person, control in ((AD_USER, 512), (AD_DISABLED, 514)):  # 514: ACCOUNTDISABLE set
        mail = AD_USER_MAIL if person is AD_USER else f"{person.uid}@example.org"
        blocks.append(
            f"dn: {person.dn}\nobjectClass: user\nuid: {person.uid}\ncn: {person.uid}\n"
            f"sn: {person.uid}\ndisplayName: {person.display_name}\nmail: {mail}\n"
            f"userPrincipalName: {person.email}\nuserAccountControl: {control}\n"
            f"userPassword: {person.password}\n"
        )
    for n in (1, 2):
        blocks.append(
            f"dn: uid=twin{n},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: twin{n}\n"
            f"cn: Twin {n}\nsn: Twin\nmail: {TWIN_EMAIL}\nuserPassword: {TWIN_PASSWORD}\n"
        )
    # A subordinate referral: subtree searches of ou=people return a continuation reference
    # next to the entries, as Active Directory does for its DNS partitions.
    blocks.append(
        f"dn: ou=partner,{PEOPLE_DN}\nobjectClass: referral\nobjectClass: extensibleObject\n"
        f"ou: partner\nref: ldap://partner.invalid/ou=partner,{BASE_DN}\n"
    )
    members = "".join(f"member: {p.dn}\n" for p in PEOPLE if p.member)
    blocks.append(
        f"dn: {GROUP_DN}\nobjectClass: groupOfNames\ncn: kiosk-users\n{members}"
    )
    unique = "".join(f"uniqueMember: {p.dn}\n" for p in PEOPLE if p.member)
    blocks.append(
        f"dn: {UNIQUE_GROUP_DN}\nobjectClass: groupOfUniqueNames\ncn: kiosk-unique\n{unique}"
    )
    return "\n".join(blocks)


# ------------------------------------------------------------------------------- TLS
@dataclass(frozen=True)
class Pki:
    """PEM files: `ca` signed `server_cert`; `other_ca` is a CA the servers never use."""

    root: Path
    ca: Path
    other_ca: Path
    server_cert: Path
    server_key: Path


def _make_pki(root: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def make_ca(common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(name(common))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cert, key

    ca_cert, ca_key = make_ca("kiosk test CA")
    other_cert, _ = make_ca("kiosk test CA")  # same name, another key: must still be refused
    server_key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    server_cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki = Pki(
        root=root,
        ca=root / "ca.pem",
        other_ca=root / "other-ca.pem",
        server_cert=root / "server.pem",
        server_key=root / "server.key",
    )
    pki.ca.write_bytes(ca_cert.public_bytes(pem))
    pki.other_ca.write_bytes(other_cert.public_bytes(pem))
    pki.server_cert.write_bytes(server_cert.public_bytes(pem))
    pki.server_key.write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pki.server_key.chmod(0o600)
    # Kiosks started by other tests may run as another account (the SSH tests' login user):
    # the CA certificates are public, only the server's key stays private.
    root.chmod(0o755)
    for public in (pki.ca, pki.other_ca, pki.server_cert):
        public.chmod(0o644)
    return pki


# ------------------------------------------------------------------------------- slapd
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_slapd() -> None:
    for program in (SLAPD, SLAPADD):
        if not Path(program).exists():
            pytest.fail(
                f"{program} is missing (apt-get install slapd ldap-utils, or run the tests with "
                "`python3 tasks.py test`); the directory tests need a real OpenLDAP server",
                pytrace=False,
            )


def slapd_conf(root: Path, pki: Pki) -> str:
    schemas = "".join(
        f"include {SCHEMA_DIR / name}.schema\n" for name in ("core", "cosine", "inetorgperson",
                                                               "nis")
    )
    (root / "ad.schema").write_text(AD_SCHEMA)
    schemas += f"include {root / 'ad.schema'}\n"
    return f"""# a throwaway server for the kiosk's directory tests
{schemas}
modulepath {MODULE_DIR}
moduleload back_mdb
pidfile {root / "slapd.pid"}
argsfile {root / "slapd.args"}
TLSCACertificateFile {pki.ca}
TLSCertificateFile {pki.server_cert}
TLSCertificateKeyFile {pki.server_key}
# A search outside this server's naming context gets a referral (never chased by the kiosk).
referral ldap://elsewhere.invalid/
sizelimit 500

database mdb
suffix "{BASE_DN}"
rootdn "{ADMIN_DN}"
rootpw "{ADMIN_PASSWORD}"
directory {root / "db"}
maxsize 16777216
access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by * read
"""


@dataclass
class SlapdServer:
    """One running slapd: its URLs, its CA, and ways to stop, kill or freeze it."""

    root: Path
    pki: Pki
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}/"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}/"

    @property
    def log(self) -> Path:
        return self.root / "slapd.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        require_slapd()
        conf = self.root / "slapd.conf"
        (self.root / "db").mkdir(exist_ok=True)
        conf.write_text(slapd_conf(self.root, self.pki))
        ldif = self.root / "people.ldif"
        ldif.write_text(people_ldif())
        if not any((self.root / "db").iterdir()):
            load = subprocess.run(
                [SLAPADD, "-f", str(conf), "-l", str(ldif)],
                capture_output=True, text=True, timeout=60,
            )
            if load.returncode != 0:
                pytest.fail(f"slapadd failed: {load.stderr[-2000:]}", pytrace=False)
        self._launch()

    def _launch(self) -> None:
        conf = self.root / "slapd.conf"
        urls = f"{self.ldap_url} {self.ldaps_url}"
        with open(self.log, "ab") as log_file:
            # -d: stay in the foreground (a child the test controls); "stats" logs each
            # connection and operation, which tests read to prove what reached the server.
            self.process = subprocess.Popen(
                [SLAPD, "-f", str(conf), "-h", urls, "-d", "stats"],
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_the_tests,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            if all(_port_open(p) for p in (self.port, self.tls_port)):
                return
            time.sleep(0.05)
        pytest.fail(f"slapd did not start: {self.log_text()[-3000:]}", pytrace=False)

    def restart(self) -> None:
        self.stop()
        self._launch()

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def freeze(self) -> None:
        """SIGSTOP: the listening sockets stay, connections are accepted, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-whatever, as a crashed host would."""
        self.thaw()
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def settings(self, **overrides: object) -> DirectorySettings:
        """DirectorySettings for this server: ldaps://, the right CA, anonymous search."""
        base = DirectorySettings(
            enabled=True,
            url=(self.ldaps_url,),
            ca_file=str(self.pki.ca),
            search_base=PEOPLE_DN,
            timeout=5,
        )
        return replace(base, **overrides)  # type: ignore[arg-type]

    def stats_lines(self, since: int = 0) -> list[str]:
        """The server's connection/operation log lines after byte offset `since`."""
        with open(self.log, "rb") as handle:
            handle.seek(since)
            return handle.read().decode(errors="replace").splitlines()

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0


def _die_with_the_tests() -> None:
    """In the child before exec: SIGKILL when the test process ends, however it ends (a
    pytest-timeout in thread mode exits at once, without any finalizer)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def directory_toml(settings: DirectorySettings) -> str:
    """The [directory] section of a config.toml for `settings` (append to write_config's)."""

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    urls = ", ".join(quoted(u) for u in settings.url)
    return f"""
[directory]
enabled = {str(settings.enabled).lower()}
url = [{urls}]
start_tls = {str(settings.start_tls).lower()}
ca_file = {quoted(settings.ca_file)}
search_base = {quoted(settings.search_base)}
user_filter = {quoted(settings.user_filter)}
bind_dn = {quoted(settings.bind_dn)}
bind_password_file = {quoted(settings.bind_password_file)}
group_dn = {quoted(settings.group_dn)}
timeout = {settings.timeout}
"""


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def slapd_pki() -> Iterator[Pki]:
    root = Path(tempfile.mkdtemp(prefix="kiosk-ldap-pki-"))
    yield _make_pki(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def slapd_server(slapd_pki: Pki) -> Iterator[SlapdServer]:
    """One server for the whole session; tests that stop or freeze a server use start_slapd."""
    root = Path(tempfile.mkdtemp(prefix="kiosk-slapd-"))
    server = SlapdServer(root=root, pki=slapd_pki)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def start_slapd(slapd_pki: Pki) -> Iterator[Callable[[], SlapdServer]]:
    """Factory for private servers, each stopped and removed at the end of the test."""
    servers: list[SlapdServer] = []

    def start() -> SlapdServer:
        server = SlapdServer(root=Path(tempfile.mkdtemp(prefix="kiosk-slapd-")), pki=slapd_pki)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def directory_settings(slapd_server: SlapdServer) -> DirectorySettings:
    """Settings for the shared server: ldaps://, the right CA, anonymous search."""
    return slapd_server.settings()
