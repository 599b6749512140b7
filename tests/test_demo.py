"""`make demo` is what a new user runs first: it must print the reports and exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]


def test_demo_runs_end_to_end_and_converges():
    proc = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    # Both directions ran twice and reported (S12), with the demo's rules visible.
    assert out.count("target-sell-contacts (tenant default") == 2
    assert out.count("target-exchange (tenant default") == 2
    assert "matched Katherine Johnson (Exchange) with Katherine Johnson (Sell) by name_phone" in out
    assert "conflict on title of Grace Hopper" in out
    assert "Pat Private" not in out.split("== After: Sell")[1].split("== Values kept")[0]
    assert "writes: Sell 0, Exchange 0" in out
