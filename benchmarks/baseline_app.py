"""The floor for the kiosk's figures: a minimal Textual app with one Static, started like the kiosk.

`.venv/bin/python benchmarks/baseline_app.py` — the benchmarks spawn it in the same 80×24 pty as
`kiosk run --mode ssh` and stop the clock when its text is on the screen.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

TEXT = "Baseline ready"


class BaselineApp(App[None]):
    """One Static: Textual's own start-up cost and memory, nothing else."""

    def compose(self) -> ComposeResult:
        yield Static(TEXT)


def main() -> None:
    BaselineApp().run()


if __name__ == "__main__":
    main()
