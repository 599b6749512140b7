"""The repository is portable: no committed file names an absolute path of one machine (issue 12).

The places are worked out at run time (the folder holding the checkout, the home folder), so this
test names no path itself and holds on any machine the repository is cloned to.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def machine_paths() -> list[str]:
    """Absolute folders that belong to this machine, not to the repository."""
    found = []
    for folder in (ROOT.parent, Path.home()):
        if len(folder.parts) > 1:  # "/" itself would match every absolute path
            found.append(f"{folder}/")
    return found


def committed_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout, so no list of committed files: {exc}")
    return [ROOT / name for name in out.split("\0") if name]


def test_no_committed_file_names_a_path_of_this_machine():
    needles = machine_paths()
    offenders = []
    for path in committed_files():
        if not path.is_file():
            continue  # deleted in the work tree
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if any(needle in line for needle in needles):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, (
        "use repository paths or ../shared/... instead of machine paths:\n" + "\n".join(offenders)
    )


def test_the_check_sees_a_machine_path():
    """The needles really match what the grep of issue 12 found (the test can fail)."""
    needle = machine_paths()[0]
    assert needle in f"SCHEMA_DIR = '{ROOT.parent}/shared/ews-schema'"
