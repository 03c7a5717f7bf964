"""What the board shows, as plain values: cells, counts, the funnel, filter and sort.

No Textual here: the app turns these into widgets, and tests check them without a screen. Every
function is cheap per person, so a change to a few people costs a few calls, not a rebuild.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.core.cohorts import ATTENTION_REASONS, attention_hint
from kiosk.core.steps import STAGES, Stage
from kiosk.core.values import PersonState

STATE_LABELS: dict[str, str] = {
    Stage.NOT_STARTED: "not started",
    Stage.SIGNED_IN: "signed in",
    Stage.SETTING_UP: "setting up",
    Stage.CODE_CONFIRMED: "confirmed",
    Stage.ENROLLED: "enrolled",
}
ATTENTION_LABELS: dict[str, str] = {
    "locked": "locked",
    "pass_expired": "pass expired",
    "wrong_codes": "wrong codes",
    "idle": "idle",
}
# The funnel: how many people reached each stage or a later one.
FUNNEL: tuple[tuple[str, Stage], ...] = (
    ("signed in+", Stage.SIGNED_IN),
    ("setting up+", Stage.SETTING_UP),
    ("confirmed+", Stage.CODE_CONFIRMED),
    ("enrolled", Stage.ENROLLED),
)
_STAGE_ORDER = {stage.value: index for index, stage in enumerate(STAGES)}
_ATTENTION_ORDER = {reason: index for index, reason in enumerate(ATTENTION_REASONS)}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None  # None: shares what the fixed columns leave (name and email)


COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", None),
    Column("email", "Email", None),
    Column("state", "State", max(map(len, STATE_LABELS.values()))),
    Column("since", "Since", 6),
    Column("attempts", "Fails", 5),
    Column("attention", "Attention", max(map(len, ATTENTION_LABELS.values()))),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
CELL_PADDING = 1  # on each side of every column
MIN_NAME, MIN_EMAIL = 8, 14

Cells = tuple[str, str, str, str, str, str]


def column_widths(available: int) -> dict[str, int]:
    """Widths for a table `available` cells wide: the fixed columns first, then name and email
    share the rest (email gets more), never below a readable minimum."""
    fixed = sum(c.width or 0 for c in COLUMNS)
    padding = 2 * CELL_PADDING * len(COLUMNS)
    rest = max(MIN_NAME + MIN_EMAIL, available - fixed - padding)
    name = max(MIN_NAME, min(32, rest * 2 // 5))
    email = max(MIN_EMAIL, rest - name)
    return {c.key: c.width or (name if c.key == "name" else email) for c in COLUMNS}


def relative(since: datetime | None, now: datetime) -> str:
    """`since` as a short age: "<1 min", "4 min", "3 h", "2 d"."""
    if since is None:
        return "-"
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def cells(person: PersonState, now: datetime) -> Cells:
    """One table row for a person (in COLUMNS order)."""
    return (
        person.name or "",
        person.email,
        STATE_LABELS.get(person.state, person.state),
        relative(person.since, now),
        str(person.failed_attempts),
        ATTENTION_LABELS.get(person.attention or "", person.attention or ""),
    )


def matches(person: PersonState, text: str) -> bool:
    """The filter: every word typed appears in the name, email, state or attention (either as
    shown or as stored, so `setting_up` and `setting up` both work)."""
    words = text.lower().split()
    if not words:
        return True
    haystack = " ".join(
        (
            person.name or "",
            person.email,
            person.state,
            STATE_LABELS.get(person.state, ""),
            person.attention or "",
            ATTENTION_LABELS.get(person.attention or "", ""),
        )
    ).lower()
    return all(word in haystack for word in words)


def sort_key(column: str) -> Callable[[PersonState], Any]:
    """How a column sorts: stages in their order, ages by time, attention first by reason."""
    keys: dict[str, Callable[[PersonState], Any]] = {
        "name": lambda p: ((p.name or "").lower(), p.email),
        "email": lambda p: p.email,
        "state": lambda p: (_STAGE_ORDER.get(p.state, -1), p.email),
        "since": lambda p: (p.since or datetime.min, p.email),
        "attempts": lambda p: (p.failed_attempts, p.email),
        "attention": lambda p: (
            _ATTENTION_ORDER.get(p.attention or "", len(_ATTENTION_ORDER)),
            p.email,
        ),
    }
    return keys[column]


@dataclass(frozen=True)
class Tally:
    """Counts for the top of the board."""

    total: int
    by_state: dict[str, int]
    attention: int
    funnel: tuple[tuple[str, int], ...]

    @property
    def enrolled(self) -> int:
        return self.by_state.get(Stage.ENROLLED.value, 0)


def tally(people: Iterable[PersonState]) -> Tally:
    by_state: Counter[str] = Counter()
    attention = 0
    for person in people:
        by_state[person.state] += 1
        attention += person.attention is not None
    total = sum(by_state.values())
    funnel = tuple(
        (
            label,
            sum(n for state, n in by_state.items() if _STAGE_ORDER.get(state, -1) >= stage_index),
        )
        for label, stage_index in ((label, _STAGE_ORDER[stage.value]) for label, stage in FUNNEL)
    )
    return Tally(
        total=total,
        by_state={stage.value: by_state.get(stage.value, 0) for stage in STAGES},
        attention=attention,
        funnel=funnel,
    )


def counts_line(t: Tally) -> str:
    parts = [f"{t.by_state[stage.value]} {STATE_LABELS[stage]}" for stage in STAGES]
    return " · ".join(parts)


def bar(count: int, total: int, width: int) -> str:
    """A horizontal bar of `width` cells, filled in proportion (eighths for smoothness)."""
    if width <= 0:
        return ""
    if total <= 0:
        return "░" * width
    eighths = round(8 * width * count / total)
    full, part = divmod(eighths, 8)
    text = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return text + "░" * (width - len(text))


def details(person: PersonState, now: datetime, idle_minutes: int) -> list[str]:
    """The details pane for one person, in plain words; never anything secret."""
    state = STATE_LABELS.get(person.state, person.state)
    lines = [f"{person.name or '(no name)'} <{person.email}>"]
    facts = [f"{state} for {relative(person.since, now)}"]
    if person.failed_attempts:
        facts.append(f"{person.failed_attempts} failed attempt(s)")
    if person.locked:
        facts.append("locked")
    if person.pass_expires_at is not None:
        facts.append(f"pass live, {relative(now, person.pass_expires_at)} left")
    elif person.passes_issued:
        facts.append(f"{person.passes_issued} pass(es) issued")
    lines.append(" · ".join(facts))
    hint = attention_hint(person, idle_minutes)
    if hint:
        lines.append(f"⚑ {hint}")
    elif person.state == Stage.ENROLLED:
        lines.append("Done: their authenticator is set up.")
    elif person.state == Stage.NOT_STARTED:
        lines.append("Not at a kiosk yet. Without a password, issue them a pass (p).")
    return lines
