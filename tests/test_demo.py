"""`make demo` is what a new user runs first: it must print the reports and exit 0, over EWS and
over Microsoft Graph (`make demo PROTOCOL=graph`), and both must end in the same state (S13.1)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]


@dataclass
class DemoRun:
    returncode: int
    out: str
    err: str
    state: dict[str, Any]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], DemoRun]:
    """``python -m demo --protocol P --state-out FILE``, run once per protocol per module."""
    runs: dict[str, DemoRun] = {}

    def run(protocol: str) -> DemoRun:
        if protocol not in runs:
            workdir = tmp_path_factory.mktemp(f"demo-{protocol}")
            state_file, reports = workdir / "state.json", workdir / "reports"
            # Its own reports folder: with xdist, another worker may run the same demo meanwhile.
            command = ["--protocol", protocol, "--state-out", state_file, "--reports", reports]
            proc = subprocess.run(
                [sys.executable, "-m", "demo", *command],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
            runs[protocol] = DemoRun(proc.returncode, proc.stdout, proc.stderr, state)
        return runs[protocol]

    return run


def _succeeded(run: DemoRun) -> None:
    assert run.returncode == 0, run.out[-3000:] + run.err[-3000:]


@pytest.mark.spec("S1.1", "S1.2", "S4.1", "S4.3", "S5.2", "S7.1", "S7.3")
def test_demo_runs_end_to_end_and_converges(demo: Callable[[str], DemoRun]) -> None:
    run = demo("ews")
    _succeeded(run)
    out = run.out
    # Both directions ran twice and reported (S12), with the demo's rules visible.
    assert out.count("target-sell-contacts (tenant default") == 2, out
    assert out.count("target-exchange (tenant default") == 2, out
    assert "conflict on title of Grace Hopper" in out, out
    sell_after = out.split("== After: Sell")[1].split("== Values kept")[0]
    assert sell_after.count("Katherine Johnson") == 1, out  # matched by name + phone (S4.1)
    assert sell_after.count("Alan Turing") == 2, out  # Exchange duplicates: one linked, one new
    assert "Margaret Hamilton" in sell_after, out  # created from Exchange, with her company
    assert "Pat Private" not in sell_after, out  # outside the selected categories (S1.2)
    assert "Rex Cached" not in sell_after, out  # in Outlook's Recipient Cache (S1.1)
    assert "writes: Sell 0, Exchange 0" in out, out


def _sides(state: dict[str, Any]) -> dict[str, Any]:
    return {side: state[side] for side in ("sell", "exchange")}


@pytest.mark.spec("S1.1", "S13.1", "S13.3", "S5.2", "S6", "S7.1", "S7.3")
def test_demo_over_graph_ends_in_the_same_state_as_over_ews(
    demo: Callable[[str], DemoRun],
) -> None:
    graph = demo("graph")
    _succeeded(graph)
    assert graph.state["protocol"] == "graph"
    assert graph.state["disagreements"] == []  # S7.3 over Graph
    assert graph.state["quiet_run_writes"] == {"sell": 0, "exchange": 0}  # S7.1 over Graph
    # The reports name the Graph ids' contacts, as over EWS.
    assert graph.out.count("conflict on title of Grace Hopper (Exchange)") == 2, graph.out
    assert "Linus Torvalds (Exchange) follows it" in graph.out, graph.out
    ews = demo("ews")
    _succeeded(ews)
    assert ews.state["protocol"] == "ews"
    assert _sides(graph.state) == _sides(ews.state)
    # Not two empty tables: the story's end state is there (S5.2's kept value, S6's conversion).
    exchange_people = {r["display_name"] for r in graph.state["exchange"]}
    assert {"Grace Hopper", "Linus Torvalds", "Pat Private"} <= exchange_people
    # Outlook's Recipient Cache is no folder of the user's, over Graph either (S1.1).
    assert not [r for r in graph.state["sell"] if r["fields"].get("last_name") == "Cached"]
    [grace] = [r for r in graph.state["sell"] if r["fields"].get("last_name") == "Hopper"]
    assert grace["overwritten"] == [
        'sell title: "Commodore"',
        'exchange title: "Rear Admiral (ret.)"',
    ]
