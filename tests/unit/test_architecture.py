"""The shape of the package, enforced: layer contracts, no import circles, and mypy.

The layers and the forbidden imports are import-linter contracts in pyproject.toml; this test
runs them, looks for import circles among the kiosk's own modules (lazy imports inside
functions count: a circle hidden in a function is still a circle), and runs mypy over the
whole package (strict on the core and the store, per pyproject.toml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_layer_contracts_hold() -> None:
    result = subprocess.run(
        [str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def import_circles() -> list[list[str]]:
    """Every circle of imports among kiosk's modules (each found once, from its least module)."""
    import grimp

    graph = grimp.build_graph("kiosk", include_external_packages=False)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    circles: list[list[str]] = []
    for start in sorted(edges):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            module, path = stack.pop()
            for nxt in edges.get(module, []):
                if nxt == start:
                    circles.append(path)
                elif nxt > start and nxt not in seen:  # circles through a lesser module are
                    seen.add(nxt)                      # found when that module is the start
                    stack.append((nxt, [*path, nxt]))
    return circles


def test_no_import_circles() -> None:
    assert import_circles() == []


def test_mypy_passes_over_the_whole_package() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
