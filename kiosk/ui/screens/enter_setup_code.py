"""Enter the 6-digit code (setup): proves the new app works before anything is saved."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.core.steps import Step
from kiosk.i18n import N_
from kiosk.ui.screens.code_entry import CodeScreen

if TYPE_CHECKING:
    from kiosk.core.flow import AuthFlow


class EnterSetupCodeScreen(CodeScreen):
    STEP = Step.ENTER_SETUP_CODE
    EXPLANATION = N_(
        "Enter the 6-digit code your authenticator app now shows for this account, then "
        "choose Continue. The code changes every 30 seconds; any current one works."
    )

    def check(self, flow: AuthFlow, code: str) -> str:  # type: ignore[override]
        return flow.verify_setup_code(code)
