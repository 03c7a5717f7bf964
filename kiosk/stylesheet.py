"""Where a front end's stylesheet is: styles/ ships in the package as `kiosk.styles`."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def find_stylesheet(name: str) -> tuple[str | None, str]:
    """(CSS_PATH, CSS) for an App: a real file when installed normally or editable, else (a
    zipped install) the text itself.

    `find_spec` names the folder without loading importlib.resources' readers (a cost at every
    start, benchmarks/RESULTS.md); a zipped install falls back to reading the resource.
    """
    spec = importlib.util.find_spec("kiosk.styles")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate), ""
    from importlib.resources import files

    return None, files("kiosk.styles").joinpath(name).read_text(encoding="utf-8")
