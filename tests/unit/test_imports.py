"""The core stands alone: importing it loads no Textual (the UI layer depends on it, not back)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import kiosk.core
import kiosk.store


def test_core_and_store_import_no_textual() -> None:
    modules = [
        f"kiosk.{pkg.__name__.split('.')[-1]}.{m.name}"
        for pkg in (kiosk.core, kiosk.store)
        for m in pkgutil.iter_modules(pkg.__path__)
    ]
    modules += ["kiosk.config"]
    assert "kiosk.core.service" in modules and "kiosk.store.database" in modules
    script = (
        "import importlib, sys\n"
        + "".join(f"importlib.import_module({m!r})\n" for m in modules)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_sign_in_screen_needs_no_store_crypto_or_qr_modules() -> None:
    """Every SSH login starts a process: what Sign in needs is imported before it is painted,
    the store (peewee, drivers), argon2, cryptography and qrcode only after, and the admin
    command line (click) not at all (issue 6)."""
    script = (
        "import sys\n"
        "import kiosk.launch, kiosk.runtime, kiosk.ui.app\n"
        "from kiosk.core.deferred import DeferredService\n"
        "from kiosk.core.steps import Step\n"
        "def unopened(): raise AssertionError('opened before the first paint')\n"
        "settings = kiosk.runtime.Context(None).settings  # what `kiosk run` does first\n"
        "kiosk.runtime.session_source()\n"
        "service = DeferredService(settings, unopened)\n"
        "app = kiosk.ui.app.KioskApp(service, mode='ssh', source='t')\n"
        "kiosk.ui.app.screen_class(Step.SIGN_IN)\n"
        "heavy = ('peewee', 'psycopg2', 'argon2', 'cryptography', 'qrcode', 'pyotp', 'click',\n"
        "         'kiosk.cli', 'kiosk.store.database', 'kiosk.core.service',\n"
        "         'kiosk.ui.widgets.qr')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
