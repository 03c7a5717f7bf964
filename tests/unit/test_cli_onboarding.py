"""`kiosk cohort …` and `kiosk pass …`, run as the real command on SQLite and PostgreSQL.

What staff rely on: a CSV with a bad line changes nothing and names the line; the JSON has the
documented keys; a pass issued here signs the person in once; every change is audited with the
staff member who made it; never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.config import Settings
from kiosk.core.flow import AuthFlow, Step
from kiosk.core.service import KioskService
from kiosk.errors import PassRefusedError

from .conftest import SOURCE, Run, one_error_line

STATE_KEYS = {"email", "name", "state", "locked", "attention", "since", "failed_attempts"}


def test_a_cohort_from_a_csv_then_show_and_list(cli: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,full name\nana@example.com,Ana Núñez\nBEN@example.com\n")
    created = cli(
        "cohort",
        "create",
        "Hires Dec",
        "--from",
        str(people),
        "--deadline",
        "2026-12-31",
        env={"SUDO_USER": "it-alice"},
    )
    assert created.returncode == 0, created.stderr
    assert "2 people" in created.stdout
    shown = json.loads(cli("cohort", "show", "Hires Dec", "--json").stdout)
    assert [row["email"] for row in shown] == ["ana@example.com", "ben@example.com"]
    assert all(set(row) == STATE_KEYS for row in shown)
    users = {u["email"]: u for u in json.loads(cli("users", "list", "--json").stdout)}
    assert users["ana@example.com"]["password"] == "none"  # created for the cohort, no password
    assert shown[0]["name"] == "Ana Núñez" and shown[0]["state"] == "not_started"
    listed = json.loads(cli("cohort", "list", "--json").stdout)
    assert listed == [
        {
            "name": "Hires Dec",
            "deadline": "2026-12-31",
            "people": 2,
            "enrolled": 0,
            "created_at": listed[0]["created_at"],
            "created_by": "it-alice",
        }
    ]
    audit = cli("audit", "--json").stdout
    assert '"source": "staff:it-alice"' in audit
    assert cli("cohort", "add", "Hires Dec", "cid@example.com").returncode == 0
    assert "cid@example.com" in cli("cohort", "show", "Hires Dec").stdout
    removed = cli("cohort", "remove", "Hires Dec", "cid@example.com")
    assert (
        removed.returncode == 0
        and "cid@example.com" not in cli("cohort", "show", "Hires Dec").stdout
    )
    assert "2 people" in cli("cohort", "remove", "Hires Dec").stdout
    assert json.loads(cli("cohort", "list", "--json").stdout) == []


def test_a_csv_with_a_bad_line_changes_nothing(cli: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_bytes(b"ana@example.com\nnot an email\nben@example.com\n")
    result = cli("cohort", "create", "hires", "--from", str(people))
    assert result.returncode != 0
    line = one_error_line(result)
    assert "line 2" in line and "nothing was changed" in line
    people.write_bytes(b"ana@example.com\n\xff\xfe\n")
    assert "line 2" in one_error_line(cli("cohort", "create", "hires", "--from", str(people)))
    assert json.loads(cli("cohort", "list", "--json").stdout) == []
    assert json.loads(cli("users", "list", "--json").stdout) == []


def test_unknown_cohorts_and_bad_options_are_one_line(cli: Run) -> None:
    for args in (
        ("cohort", "show", "nope"),
        ("cohort", "report", "nope"),
        ("cohort", "remove", "nope"),
        ("cohort", "create", "x", "--deadline", "31/12/2026"),
        ("pass", "issue", "nobody@example.com"),
        ("pass", "issue", "nobody@example.com", "--valid", "8d"),
    ):
        result = cli(*args)
        assert result.returncode != 0, args
        assert one_error_line(result), args


def test_a_pass_from_the_cli_signs_in_once(cli: Run, settings: Settings) -> None:
    assert cli("cohort", "create", "hires").returncode == 0
    assert cli("cohort", "add", "hires", "dee@example.com").returncode == 0
    issued = cli(
        "pass", "issue", "dee@example.com", "--valid", "2h", "--json", env={"SUDO_USER": "it-bob"}
    )
    assert issued.returncode == 0, issued.stderr
    data = json.loads(issued.stdout)
    assert set(data) == {"email", "pass", "expires_at"} and data["email"] == "dee@example.com"
    assert len(data["pass"].replace("-", "")) == 10 and data["expires_at"].endswith("Z")
    service = KioskService.open(settings)
    try:
        flow = AuthFlow(service, SOURCE)
        assert flow.submit_password("dee@example.com", data["pass"]) == Step.CREATE_PASSWORD
        revoked = cli("pass", "revoke", "dee@example.com")
        assert revoked.returncode == 0 and "withdrew" in revoked.stdout
        try:
            AuthFlow(service, SOURCE).submit_password("dee@example.com", data["pass"])
            raise AssertionError("a withdrawn pass signed in")
        except PassRefusedError as refused:
            assert "withdrawn" in str(refused)
    finally:
        service.close()
    audit = cli("audit", "--email", "dee@example.com").stdout
    assert "pass_issued" in audit and "staff:it-bob" in audit and data["pass"] not in audit
    assert "has no live pass" in cli("pass", "revoke", "dee@example.com").stdout


def test_handout_and_report_from_the_command_line(
    cli: Run, settings: Settings, tmp_path: Path
) -> None:
    import csv
    import io
    import re

    from pypdf import PdfReader

    assert cli("cohort", "create", "hires").returncode == 0
    assert cli("cohort", "add", "hires", "eve@example.com", "fay@example.com").returncode == 0
    unwritable = cli(
        "cohort",
        "handout",
        "hires",
        "--with-pass",
        "--out",
        str(tmp_path / "no-such-folder" / "h.pdf"),
    )
    assert "not writable" in one_error_line(unwritable)
    assert "pass_issued" not in cli("audit").stdout  # refused before any pass was issued
    out = tmp_path / "hires.pdf"
    made = cli("cohort", "handout", "hires", "--with-pass", "--valid", "2h", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "2 page(s)" in made.stdout and "2 with a pass" in made.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    pages = [page.extract_text() for page in PdfReader(out).pages]
    assert len(pages) == 2 and "eve@example.com" in pages[0]
    printed = re.search(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b", pages[0])
    assert printed is not None, pages[0]
    service = KioskService.open(settings)
    try:
        flow = AuthFlow(service, SOURCE)
        assert flow.submit_password("eve@example.com", printed.group(0)) == Step.CREATE_PASSWORD
    finally:
        service.close()
    report = json.loads(cli("cohort", "report", "hires", "--json").stdout)
    assert report["summary"]["counts"]["signed_in"] == 1
    assert report["summary"]["counts"]["not_started"] == 1
    rows = list(csv.DictReader(io.StringIO(cli("cohort", "report", "hires", "--csv").stdout)))
    assert {row["email"]: row["passes_issued"] for row in rows} == {
        "eve@example.com": "1",
        "fay@example.com": "1",
    }
    assert "hires" in cli("cohort", "report", "hires").stdout
    assert one_error_line(cli("cohort", "report", "hires", "--json", "--csv"))


def test_a_name_with_control_characters_names_its_line(cli: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name\nana@example.com,Ana\nben@example.com,\"Ben \x1b[31mRed\"\n")
    line = one_error_line(cli("cohort", "create", "hires", "--from", str(people)))
    assert "line 3" in line and "printable" in line and "\x1b" not in line
    assert json.loads(cli("cohort", "list", "--json").stdout) == []


def test_handout_in_the_language_asked_or_else_the_configured_one(cli: Run, tmp_path: Path) -> None:
    """`--language es` prints Spanish pages; without it, `[kiosk] language`; a language the
    kiosk does not speak is one error line, before any pass is issued or file written."""
    import gettext

    from pypdf import PdfReader

    from kiosk.i18n import DOMAIN, LOCALE_DIR

    def words(pdf: Path) -> str:
        return " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())

    assert cli("cohort", "create", "hires").returncode == 0
    assert cli("cohort", "add", "hires", "eve@example.com").returncode == 0
    out = tmp_path / "hires.pdf"
    unknown = cli(
        "cohort", "handout", "hires", "--with-pass", "--language", "de", "--out", str(out)
    )
    line = one_error_line(unknown)
    assert "'de'" in line and "en, es, fr" in line
    assert not out.exists()
    assert "pass_issued" not in cli("audit").stdout  # refused before any pass was issued

    made = cli("cohort", "handout", "hires", "--with-pass", "--language", "es", "--out", str(out))
    assert made.returncode == 0, made.stderr
    es = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=["es"]).gettext
    text = words(out)
    assert es("Save Your Recovery Code") in text and "eve@example.com" in text
    assert "Save Your Recovery Code" not in text

    config = tmp_path / "config.toml"  # the one the `cli` fixture runs with
    config.write_text(config.read_text().replace("[kiosk]\n", '[kiosk]\nlanguage = "fr"\n', 1))
    assert cli("cohort", "handout", "hires", "--out", str(out)).returncode == 0
    fr = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=["fr"]).gettext
    text = words(out)
    assert fr("Two-Factor Authentication Required") in text
    assert es("Save Your Recovery Code") not in text
    assert cli("cohort", "handout", "hires", "--language", "EN", "--out", str(out)).returncode == 0
    assert "Save Your Recovery Code" in words(out)
