"""A cohort's report as JSON, CSV or plain text (`kiosk cohort report`, and Export on the board).

Everything comes from `Cohorts.report` (core/cohorts.py), so the three forms, the board and
`kiosk cohort show` agree. Nothing secret is in a report. The CSV is opened in spreadsheets by
staff, and names come from a CSV someone else wrote: a cell that a spreadsheet would read as a
formula is defused with a leading apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from kiosk.core.cohorts import CohortReport, minutes_to_enroll
from kiosk.core.steps import Stage
from kiosk.core.values import PersonState

# One row per person: the CSV's header and the keys of each person in the JSON, in this order.
PERSON_FIELDS = (
    "email",
    "name",
    "state",
    "enrolled_at",
    "minutes_to_enroll",
    "failed_attempts",
    "passes_issued",
    "missed_deadline",
)

# What a spreadsheet reads as the start of a formula (=, +, -, @) or may strip before reading
# one (tab, carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Where a person stopped, in words for staff (the text report's "stopped at" line).
STAGE_WORDS = {
    Stage.NOT_STARTED.value: "not started (never signed in at the kiosk)",
    Stage.SIGNED_IN.value: "signed in (before the QR code was shown)",
    Stage.SETTING_UP.value: "setting up (QR code or key shown, no code confirmed)",
    Stage.CODE_CONFIRMED.value: "code confirmed (recovery code not yet saved)",
    Stage.ENROLLED.value: "enrolled",
}


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, to the second (the store keeps naive UTC)."""
    if moment is None:
        return None
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _person(person: PersonState, missed: set[str]) -> dict[str, object]:
    return {
        "email": person.email,
        "name": person.name,
        "state": person.state,
        "enrolled_at": iso_utc(person.enrolled_at),
        "minutes_to_enroll": minutes_to_enroll(person),
        "failed_attempts": person.failed_attempts,
        "passes_issued": person.passes_issued,
        "missed_deadline": person.email in missed,
    }


def report_as_json(report: CohortReport) -> dict[str, object]:
    """The report as a JSON-ready dict: `cohort`, `people` (one per person) and `summary`."""
    missed = set(report.missed_deadline)
    return {
        "cohort": report.name,
        "people": [_person(person, missed) for person in report.people],
        "summary": {
            "total": len(report.people),
            "counts": dict(report.counts),
            "completion_percent": report.completion_percent,
            "median_minutes_to_enroll": report.median_minutes_to_enroll,
            "most_common_stop": report.most_common_stop,
            "missed_deadline": list(report.missed_deadline),
            "deadline": report.deadline.isoformat() if report.deadline else None,
        },
    }


def spreadsheet_safe(value: str) -> str:
    """`value` as a spreadsheet shows it as text, never runs it: `=1+1` becomes `'=1+1`."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # numbers the report computed itself: never a formula
    return spreadsheet_safe(str(value))


def report_as_csv(report: CohortReport) -> str:
    """One CSV row per person, with a header row (the summary is in the JSON and the text)."""
    missed = set(report.missed_deadline)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PERSON_FIELDS)
    for person in report.people:
        row = _person(person, missed)
        writer.writerow([_csv_cell(row[key]) for key in PERSON_FIELDS])
    return out.getvalue()


# ---------------------------------------------------------------------- plain text
def _printable(text: str) -> str:
    """Nothing in a report may move the cursor or recolour the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _width(text: str) -> int:
    """Terminal columns: East Asian wide characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _fit(text: str, limit: int) -> str:
    if _width(text) <= limit:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > limit - 1:
            break
        out += ch
    return out + "…"


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _table(header: Sequence[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            _pad(cell, widths[i], right=i in right) for i, cell in enumerate(cells)
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:g} min"


def report_as_text(report: CohortReport) -> str:
    """A readable table (one line per person) and the summary lines, for a terminal."""
    missed = set(report.missed_deadline)
    rows = [
        [
            _fit(_printable(p.email), 40),
            _fit(_printable(p.name or ""), 28),
            p.state,
            p.enrolled_at.strftime("%Y-%m-%d %H:%M") if p.enrolled_at else "-",
            _minutes(minutes_to_enroll(p)),
            str(p.failed_attempts),
            str(p.passes_issued),
            "yes" if p.email in missed else "",
        ]
        for p in report.people
    ]
    header = ["EMAIL", "NAME", "STATE", "ENROLLED (UTC)", "TIME", "FAILED", "PASSES", "LATE"]
    lines = _table(header, rows, right={4, 5, 6}) if rows else ["(nobody in this cohort yet)"]
    total = len(report.people)
    enrolled = report.counts.get(Stage.ENROLLED.value, 0)
    deadline = report.deadline.isoformat() if report.deadline else "none"
    by_state = ", ".join(f"{state} {count}" for state, count in report.counts.items())
    stop = STAGE_WORDS.get(report.most_common_stop or "", report.most_common_stop or "")
    lines += [
        "",
        f"Cohort: {_printable(report.name)} ({total} people, deadline {deadline})",
        f"Enrolled: {enrolled} of {total} ({report.completion_percent:g} %)",
        f"By state: {by_state}",
        "Median time from first sign-in to enrolled: " + _minutes(report.median_minutes_to_enroll),
        "Where most unfinished people stopped: " + (stop or "nobody is unfinished"),
    ]
    if report.deadline is not None:
        late = ", ".join(_printable(email) for email in report.missed_deadline)
        lines.append(f"Missed the deadline ({len(report.missed_deadline)}): {late or 'nobody'}")
    return "\n".join(lines) + "\n"
