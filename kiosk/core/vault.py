"""AES-256-GCM encryption of TOTP secrets at rest, and the key file that holds the keys.

Each ciphertext is `nonce (12 bytes) || AES-GCM(secret)` with associated data binding it to its
row: account id, credential id and key version. A ciphertext copied to another row, or decrypted
with another key, fails instead of yielding a wrong secret.

The key file holds one key per line, `<version> <base64 of 32 bytes>`; the highest version encrypts
new secrets, every listed version can decrypt. `kiosk keys rotate` appends a version and
re-encrypts; `kiosk keys retire` drops the versions no row uses any more. `$KIOSK_SECRET_KEY`, when
set, replaces the file and uses the same format (lines or `;`-separated).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.errors import VaultError
from kiosk.filemodes import is_open_to_others, loose_files_message

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


def _aesgcm(key: bytes) -> AESGCM:
    """AES-GCM, imported when first used: cryptography is slow to import."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def secret_associated_data(account_id: int, credential_id: str, key_version: int) -> bytes:
    return (
        f"kiosk-totp-secret|account={account_id}|credential={credential_id}|key={key_version}"
    ).encode()


def check_associated_data(key_version: int) -> bytes:
    return f"kiosk-key-check|key={key_version}".encode()


KEY_CHECK_PLAINTEXT = b"kiosk key check"


@dataclass(frozen=True)
class Keyring:
    """Every key that can decrypt, by version; the highest version encrypts."""

    keys: dict[int, bytes]
    source: str  # where the keys came from, for messages (a path or the variable's name)

    @property
    def active_version(self) -> int:
        return max(self.keys)

    def encrypt(
        self, plaintext: bytes, associated_data: bytes, version: int | None = None
    ) -> bytes:
        version = self.active_version if version is None else version
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + _aesgcm(self.keys[version]).encrypt(nonce, plaintext, associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes, version: int) -> bytes:
        from cryptography.exceptions import InvalidTag

        key = self.keys.get(version)
        if key is None:
            raise VaultError(
                f"the key for version {version} is not in {self.source}; "
                "restore it before retiring it"
            )
        try:
            nonce, sealed = bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:])
            return _aesgcm(key).decrypt(nonce, sealed, associated_data)
        except (InvalidTag, ValueError):
            raise VaultError(
                f"a stored secret does not decrypt with the key from {self.source}: "
                "wrong key, or the database was tampered with"
            ) from None

    def with_new_version(self) -> Keyring:
        new_key = secrets.token_bytes(KEY_BYTES)
        return Keyring({**self.keys, self.active_version + 1: new_key}, self.source)

    def without_versions(self, versions: set[int]) -> Keyring:
        return Keyring({v: k for v, k in self.keys.items() if v not in versions}, self.source)


KEY_CHECK_HMAC_PREFIX = "hmac-sha256:"


def key_check_value(key: bytes, key_version: int) -> str:
    """What the database keeps to prove that a key is the right one: HMAC-SHA256 of a fixed label.

    Made with the standard library, so opening the store loads no `cryptography` (memory and
    time before the first screen, benchmarks/RESULTS.md); like the AES-GCM check older
    databases hold (still accepted by `key_check_matches`), it reveals nothing about the key.
    """
    label = f"kiosk-key-check|key={key_version}".encode()
    return KEY_CHECK_HMAC_PREFIX + hmac.new(key, label, hashlib.sha256).hexdigest()


def key_check_matches(key: bytes, key_version: int, stored: str, source: str) -> bool:
    """Whether `key` is the key a stored check (HMAC, or the older AES-GCM form) was made with."""
    if stored.startswith(KEY_CHECK_HMAC_PREFIX):
        return hmac.compare_digest(stored, key_check_value(key, key_version))
    try:
        Keyring({key_version: key}, source).decrypt(
            bytes.fromhex(stored), check_associated_data(key_version), key_version
        )
    except (VaultError, ValueError):
        return False
    return True


def parse_keyring(text: str, source: str) -> Keyring:
    keys: dict[int, bytes] = {}
    entries = [e.strip() for e in text.replace(";", "\n").splitlines()]
    for number, entry in enumerate(entries, start=1):
        if not entry or entry.startswith("#"):
            continue
        parts = entry.replace(":", " ").split()
        if len(parts) == 1:  # a bare key is version 1
            parts = ["1", parts[0]]
        if len(parts) != 2 or not parts[0].isdigit():
            raise VaultError(f"{source}: entry {number} is not '<version> <base64 key>'")
        try:
            key = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise VaultError(f"{source}: entry {number} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise VaultError(f"{source}: entry {number} is not a 256-bit key")
        keys[int(parts[0])] = key
    if not keys:
        raise VaultError(f"{source} holds no key")
    return Keyring(keys, source)


def format_keyring(keyring: Keyring) -> str:
    lines = ["# kiosk TOTP-secret encryption keys: '<version> <base64>'. Keep private (0600)."]
    lines += [f"{v} {base64.b64encode(k).decode()}" for v, k in sorted(keyring.keys.items())]
    return "\n".join(lines) + "\n"


def write_key_file(path: Path, keyring: Keyring, *, replace: bool) -> None:
    """Write the key file 0600, atomically: a reader sees the old or the new file, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kiosk-key-", dir=path.parent)
    except OSError as exc:
        raise VaultError(f"cannot write key file {path}: {exc.strerror or 'error'}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(format_keyring(keyring))
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if another process created the file first
            os.unlink(tmp)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileExistsError):
            raise VaultError(f"cannot write key file {path}: {exc.strerror or 'error'}") from None
        raise


def load_keyring(
    path: Path, env_value: str | None, *, create: bool, allow_loose: bool = False
) -> tuple[Keyring, bool]:
    """The keyring from `$KIOSK_SECRET_KEY` or the key file; returns (keyring, created_now).

    With `create`, a missing key file is created with a fresh key (mode 0600). The caller must
    only allow that for a database that holds no secrets yet (see `KioskService.open`). A key
    file other accounts may read or change is refused unless `allow_loose`
    (`security.allow_loose_key_file`), the way OpenSSH refuses a loose private key.
    """
    if env_value:
        return parse_keyring(env_value, "$KIOSK_SECRET_KEY"), False
    try:
        mode, text = _read_key_file(path)
    except FileNotFoundError:
        if not create:
            raise VaultError(f"key file not found: {path}") from None
        keyring = Keyring({1: secrets.token_bytes(KEY_BYTES)}, str(path))
        try:
            write_key_file(path, keyring, replace=False)
        except FileExistsError:
            return load_keyring(path, None, create=False, allow_loose=allow_loose)
        except OSError as exc:
            raise VaultError(f"cannot create key file {path}: {exc.strerror}") from None
        return keyring, True
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "unreadable"
        raise VaultError(f"cannot read key file {path}: {reason}") from None
    if is_open_to_others(mode) and not allow_loose:
        raise VaultError(
            loose_files_message("key file", [(path, mode)])
            + " (or set security.allow_loose_key_file = true)"
        )
    return parse_keyring(text, str(path)), False


def _read_key_file(path: Path) -> tuple[int, str]:
    """(mode, text) of the key file, both from one open file: no swap between check and read."""
    with open(path, encoding="utf-8") as handle:
        return os.fstat(handle.fileno()).st_mode, handle.read()
