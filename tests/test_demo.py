"""`make demo` is what a new user runs first: it must print the reports and exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]


@pytest.mark.spec("S1.2", "S4.1", "S4.3", "S5.2", "S7.1", "S7.3")
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
    assert out.count("target-sell-contacts (tenant default") == 2, out
    assert out.count("target-exchange (tenant default") == 2, out
    assert "conflict on title of Grace Hopper" in out, out
    sell_after = out.split("== After: Sell")[1].split("== Values kept")[0]
    assert sell_after.count("Katherine Johnson") == 1, out  # matched by name + phone (S4.1)
    assert sell_after.count("Alan Turing") == 2, out  # Exchange duplicates: one linked, one new
    assert "Margaret Hamilton" in sell_after, out  # created from Exchange, with her company
    assert "Pat Private" not in sell_after, out  # outside the selected categories (S1.2)
    assert "writes: Sell 0, Exchange 0" in out, out
