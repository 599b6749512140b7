"""The root conftest's selections: ``--unit`` (``make unit``) and ``--spec``.

Each runs pytest on a small throw-away project that uses the repository's own conftest.py, so
what is checked is the option users run, not a copy of its logic.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.subprocess

SAMPLE = """
import os
import subprocess
import sys

import pytest


def test_in_memory():
    assert sum([1, 2]) == 3


@pytest.mark.spec("S5.2")
def test_pins_a_rule():
    pass


@pytest.mark.spec("S5.1", "S7.3")
def test_pins_two_rules():
    pass


@pytest.mark.e2e
def test_e2e():
    pass


@pytest.mark.subprocess
def test_marked_subprocess():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_ledger(db):
    pass


@pytest.fixture(scope="session")
def server():
    return subprocess.Popen([sys.executable, "-c", "pass"])


def test_unmarked_fixture_starts_a_process(server):
    server.wait()


def test_unmarked_forks():
    if os.fork() == 0:
        os._exit(0)
"""


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "test_sample.py").write_text(textwrap.dedent(SAMPLE))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q", *args, "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def outcomes(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        word, _, rest = line.partition(" ")
        if word in {"PASSED", "FAILED", "ERROR"} and "::" in rest:
            found[rest.split("::")[1].split(" ")[0]] = word
    return found


def test_unit_runs_the_unmarked_tests_and_fails_the_ones_that_start_a_process(tmp_path):
    proc = run_pytest(tmp_path, "--unit")
    assert proc.returncode == 1, proc.stdout
    assert outcomes(proc.stdout) == {
        "test_in_memory": "PASSED",
        "test_pins_a_rule": "PASSED",
        "test_pins_two_rules": "PASSED",
        "test_ledger[sqlite]": "PASSED",
        "test_unmarked_fixture_starts_a_process": "ERROR",
        "test_unmarked_forks": "FAILED",
    }
    assert "mark it @pytest.mark.subprocess" in proc.stdout
    assert "3 deselected" in proc.stdout  # e2e, subprocess, ledger[postgresql]


def test_without_unit_every_test_runs_and_may_start_processes(tmp_path):
    proc = run_pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert len(outcomes(proc.stdout)) == 9
    assert set(outcomes(proc.stdout).values()) == {"PASSED"}


@pytest.mark.parametrize(
    ("rule", "selected"),
    [
        ("S5.2", {"test_pins_a_rule"}),
        ("S5", {"test_pins_a_rule", "test_pins_two_rules"}),
        ("S7.3", {"test_pins_two_rules"}),
        ("S7", {"test_pins_two_rules"}),
        ("S5.5", set()),
    ],
)
def test_spec_selects_the_tests_that_pin_a_rule_or_a_section(tmp_path, rule, selected):
    proc = run_pytest(tmp_path, "--spec", rule)
    assert set(outcomes(proc.stdout)) == selected, proc.stdout
    assert proc.returncode == (0 if selected else 5)
