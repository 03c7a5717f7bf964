"""What the screens may ask of the app that hosts them (the app implements it).

Screens get the app's state as attributes and ask it to act; they never import the app module,
which imports them (attributes down, requests up, no import circle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kiosk.core.flow import AuthFlow


class KioskHost(Protocol):
    flow: AuthFlow
    organization: str
    demo_hint: str | None
    mode: str
    signed_in_timeout: float

    @property
    def busy(self) -> bool: ...

    @property
    def offers_download(self) -> bool: ...

    def act(
        self,
        action: Callable[[AuthFlow], Any],
        *,
        then: Callable[[Any], None] | None = None,
        busy: str = "Checking…",
    ) -> None: ...

    def go_back(self) -> None: ...

    def show_step(self, notice: str | None = None) -> None: ...

    def show_crash(self, error: BaseException) -> None: ...

    def copy_secret(self, text: str) -> None: ...

    def wipe(self) -> None: ...

    def end_session(self) -> None: ...

    def switch_to_plain(self) -> None: ...
    def choose_language(self, language: str) -> None: ...
