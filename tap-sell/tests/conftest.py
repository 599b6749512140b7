"""Shared fixtures: run the tap in-process and collect its Singer messages."""

from __future__ import annotations

import copy
import io
import json
from collections import defaultdict
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import pytest
from tap_sell.tap import TapSell

TOKEN = "t" * 32 + "0123456789abcdef0123456789abcdef"
OTHER_TOKEN = "u" * 64


@dataclass
class TapRun:
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    states: list[dict] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def state(self) -> dict:
        return self.states[-1] if self.states else {}

    def ids(self, stream: str) -> list[int]:
        return [r["id"] for r in self.records.get(stream, [])]


def parse_messages(text: str) -> TapRun:
    run = TapRun()
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message["type"] == "RECORD":
            run.records[message["stream"]].append(message["record"])
        elif message["type"] == "STATE":
            run.states.append(message["value"])
    return run


def run_tap(
    config: dict,
    state: dict | None = None,
    streams: tuple[str, ...] | None = None,
    *,
    raise_errors: bool = True,
) -> TapRun:
    """Sync in-process (fast) and parse what the tap printed."""
    tap = TapSell(config=config, state=copy.deepcopy(state or {}), setup_mapper=True)
    if streams is not None:
        for stream in tap.streams.values():
            stream.selected = stream.name in streams
    out = io.StringIO()
    error: BaseException | None = None
    with redirect_stdout(out):
        try:
            tap.sync_all()
        except BaseException as exc:
            if raise_errors:
                raise
            error = exc
    run = parse_messages(out.getvalue())
    run.error = error
    return run


@pytest.fixture
def tap_runner():
    return run_tap


@pytest.fixture(scope="session")
def sell50():
    """A small account for the SDK's built-in suite (every stream has records).

    ``--seed`` makes no lead conversions, so two seeded leads are converted here.
    """
    from sandbox_common.process import running_sandbox
    from sell_sandbox.client import SellSandboxClient

    args = ["--seed", "50", "--rate-limit", "0", "--token", TOKEN]
    args += [
        "--custom-field",
        "deal:Budget:number",
        "--custom-field",
        "contact:Tier:list:Gold|Silver",
    ]
    args += ["--custom-field", "lead:Referrer:string"]
    with running_sandbox("sell-sandbox", args) as sandbox:
        api = SellSandboxClient(sandbox.base_url, TOKEN)
        for lead_id in api.all_ids("leads")[:2]:
            api.convert_lead(lead_id, create_deal=True)
        yield sandbox
