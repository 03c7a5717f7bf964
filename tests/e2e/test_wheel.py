"""`pip install .` (a real wheel, not the editable checkout) gives a kiosk that finds its styles.

The stylesheet lives in styles/ at the top of the repository and ships inside the wheel as the
package data `kiosk.styles`; a wheel that forgot it would start without its layout. The
packages are listed by name in pyproject.toml: a new one left off the list works in the editable
checkout and is missing from every real install (the staff board was, once).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, make_settings, write_config
from tests.e2e.conftest import SCREEN_TIMEOUT
from tests.support.terminal import Terminal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and installed (without its dependencies) into a folder."""
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root / "dist"),
         str(REPO)],
        capture_output=True, text=True, timeout=600, cwd=root,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (root / "dist").glob("kiosk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not _source_files_missing_from(names)
    assert "kiosk/styles/kiosk.tcss" in names
    assert "kiosk/serve_page/app_index.html" in names  # the `kiosk serve` page
    for language in ("es", "fr"):  # the compiled catalogs (kiosk/i18n.py)
        assert f"kiosk/locale/{language}/LC_MESSAGES/kiosk.mo" in names
    target = root / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    return target


def _source_files_missing_from(names: list[str]) -> list[str]:
    """Every module of the source tree and every stylesheet of styles/ not in the wheel."""
    modules = [path.relative_to(REPO).as_posix() for path in (REPO / "kiosk").rglob("*.py")]
    styles = [f"kiosk/styles/{path.name}" for path in (REPO / "styles").glob("*.tcss")]
    return sorted(set(modules + styles) - set(names))


def _env(site: Path) -> dict[str, str]:
    # The wheel's copy comes first on the path, ahead of the editable checkout.
    return {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}


def test_the_installed_app_loads_its_stylesheet_from_the_wheel(
    installed_wheel: Path, tmp_path: Path
) -> None:
    probe = subprocess.run(
        [sys.executable, "-c",
         "import kiosk.ui.app as a; print(a.__file__); print(a.KioskApp.CSS_PATH)"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env(installed_wheel),
    )
    assert probe.returncode == 0, probe.stderr
    module_file, css_path = probe.stdout.split()
    assert Path(module_file).is_relative_to(installed_wheel)
    assert Path(css_path).is_relative_to(installed_wheel) and Path(css_path).is_file()


def test_the_installed_kiosk_shows_sign_in_in_a_terminal(
    installed_wheel: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.toml", make_settings(tmp_path, "sqlite:///kiosk.db"))
    argv = [sys.executable, "-m", "kiosk", "--config", str(config), "run", "--mode", "ssh"]
    with Terminal(argv, env=_env(installed_wheel), cwd=tmp_path) as term:
        term.wait_for_text("Email", SCREEN_TIMEOUT)
        term.wait_for_text("Password", SCREEN_TIMEOUT)
        assert "Sign in" in term.screen_text()
        term.send("\x03")  # ctrl+c ends an ssh-mode session
        assert term.wait_for_exit(SCREEN_TIMEOUT) == 0


def test_the_installed_kiosk_speaks_every_language_from_the_wheel(
    installed_wheel: Path, tmp_path: Path
) -> None:
    probe = subprocess.run(
        [sys.executable, "-c",
         "import kiosk.i18n as i\n"
         "for code in ('es', 'fr'):\n"
         "    i.set_language(code); print(i._('Continue'))\n"
         "print(i.LOCALE_DIR)"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env(installed_wheel),
    )
    assert probe.returncode == 0, probe.stderr
    spanish, french, locale_dir = probe.stdout.splitlines()
    assert (spanish, french) == ("Continuar", "Continuer")
    assert Path(locale_dir).is_relative_to(installed_wheel)


def test_the_installed_admin_commands_and_board_run_from_the_wheel(
    installed_wheel: Path, tmp_path: Path
) -> None:
    """Staff install the wheel too: a cohort made with the CLI shows on the board."""
    config = write_config(tmp_path / "config.toml", make_settings(tmp_path, "sqlite:///kiosk.db"))
    base = [sys.executable, "-m", "kiosk", "--config", str(config)]
    created = subprocess.run(
        [*base, "cohort", "add", "hires", "ana@example.com"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env(installed_wheel),
    )
    assert created.returncode == 2 and "no cohort named 'hires'" in created.stderr
    for argv in (["cohort", "create", "hires"], ["cohort", "add", "hires", "ana@example.com"]):
        result = subprocess.run(
            [*base, *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env=_env(installed_wheel),
        )
        assert result.returncode == 0, result.stderr
    with Terminal([*base, "onboard", "hires"], env=_env(installed_wheel), cwd=tmp_path) as term:
        term.wait_for_text("ana@example.com", SCREEN_TIMEOUT)
        term.wait_for_text("0 of 1 enrolled", SCREEN_TIMEOUT)
        term.send("q")
        assert term.wait_for_exit(SCREEN_TIMEOUT) == 0
