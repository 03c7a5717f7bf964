"""A cohort's report as JSON or CSV (`kiosk cohort report`, and Export on the board)."""

from __future__ import annotations

from kiosk.core.cohorts import CohortReport


def report_as_json(report: CohortReport) -> dict[str, object]:
    """The report as a JSON-ready dict: `people` (one per person) and `summary`."""
    raise NotImplementedError


def report_as_csv(report: CohortReport) -> str:
    """One CSV row per person, with a header row."""
    raise NotImplementedError
