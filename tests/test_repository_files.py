"""The repository is portable: no committed file names an absolute path of one machine (issue 12).

The places are worked out at run time (the folder holding the checkout, the home folder), so this
test names no path itself and holds on any machine the repository is cloned to.
"""

from __future__ import annotations

import ast
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


@pytest.mark.subprocess
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


def imports_of_top_level_tests(path: Path) -> list[str]:
    """``tests`` / ``tests.…`` modules a file imports (absolute imports only)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [n for n in names if n == "tests" or n.startswith("tests.")]
    return found


def test_package_tests_stand_alone():
    """Each package's tests run from its own folder: none imports the top-level tests/ (issue 12).

    Helpers they share live in a package's test-support module (``ews_sandbox.testing``,
    ``sandbox_common``, ``contact_mapping.testing``…), which every folder can import.
    """
    offenders = {
        f"{path.relative_to(ROOT)}: {', '.join(names)}"
        for path in ROOT.glob("*/tests/**/*.py")
        if path.parts[len(ROOT.parts)] != "tests" and (names := imports_of_top_level_tests(path))
    }
    assert not offenders, "imports of the top-level tests/:\n" + "\n".join(sorted(offenders))


def test_the_import_check_sees_an_import(tmp_path: Path):
    sample = tmp_path / "test_x.py"
    sample.write_text(
        "from tests.conftest import PASSWORD\nimport tests.reliability\nfrom . import a\n"
    )
    assert imports_of_top_level_tests(sample) == ["tests.conftest", "tests.reliability"]
