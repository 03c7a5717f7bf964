"""The kiosk's text field: keys take effect in the order they were typed; passwords stay put."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingsMap
from textual.widgets import Input


def _field_bindings(field_class: type[Input]) -> BindingsMap:
    """The bindings of `Input` and of the kiosk's subclasses, the subclass's winning."""
    bindings: list[Binding] = []
    for cls in reversed(field_class.__mro__):
        if issubclass(cls, Input) and "BINDINGS" in cls.__dict__:
            bindings.extend(Binding.make_bindings(cls.__dict__["BINDINGS"]))
    return BindingsMap(bindings)


class KioskInput(Input):
    """An `Input` that runs its own key bindings as each key reaches it.

    Textual hands a printable key to the focused field at once, but a bound key (Backspace,
    Enter, Delete, ctrl+u...) first travels up through every container to the app, which then
    runs the field's action: when keys arrive in one read (a password manager, a paste tool,
    tmux, a slow link), "⌫123456⏎" became "12345" submitted. Here the field runs the action
    itself, in order with the characters around it.

    A password field never gives its text away: cut and copy do nothing there.
    """

    _bindings_by_class: ClassVar[dict[type[Input], BindingsMap]] = {}

    @classmethod
    def own_bindings(cls) -> BindingsMap:
        found = KioskInput._bindings_by_class.get(cls)
        if found is None:
            found = KioskInput._bindings_by_class[cls] = _field_bindings(cls)
        return found

    async def on_key(self, event: events.Key) -> None:
        for binding in self.own_bindings().key_to_bindings.get(event.key, ()):
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return

    def action_cut(self) -> None:
        if not self.password:
            super().action_cut()

    def action_copy(self) -> None:
        if not self.password:
            super().action_copy()
