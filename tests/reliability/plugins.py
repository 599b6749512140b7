"""The four plugins as run without Meltano: console scripts, config files, Singer files.

Tap output is captured once into a file, so a target can be fed the very same input on every
(re-)run, the way Meltano re-sends records after a failed run (at-least-once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox_common.tap_output import capture_tap

from tests.reliability.end_state import exchange_config

BIN = Path(sys.executable).parent
STREAMS = {"tap-sell": {"contacts", "leads"}, "tap-exchange-contacts": {"contacts"}}


def tap_config(
    plugin: str, sell: Any, ews: Any, token: str, mailbox: str, *, protocol: str = "ews"
) -> dict[str, Any]:
    if plugin == "tap-sell":
        return {"api_url": sell.base_url, "api_token": token, "requests_per_second": 0}
    return {**exchange_config(ews, mailbox, protocol), "categories": ["Clients", "Partners"]}


def target_config(  # noqa: PLR0917 - the same five things every caller has at hand
    plugin: str,
    sell: Any,
    ews: Any,
    token: str,
    mailbox: str,
    workdir: Path,
    *,
    exchange_id_field: str | None = None,
    protocol: str = "ews",
) -> dict[str, Any]:
    """The demo environment's settings, unpaced (the sandbox runs with ``--rate-limit 0``);
    the Exchange plugins reach the mailbox over ``protocol`` (``ews`` or ``graph``).

    ``exchange_id_field`` is off by default: creates then go through the ledger's intents, the
    crash-safety protocol under test (and upserts by Exchange id are unsafe, see
    test_exchange_ids.py).
    """
    common = {
        "ledger_url": f"sqlite:///{workdir / 'ledger.db'}",
        "report_path": str(workdir / f"{plugin}.report.json"),
    }
    if plugin == "target-sell-contacts":
        return {
            "api_url": sell.base_url,
            "api_token": token,
            **({"exchange_id_field": exchange_id_field} if exchange_id_field else {}),
            "overwritten_values_field": "Overwritten values",
            "requests_per_second": 0,
            "max_in_flight": 8,
            **common,
        }
    return {**exchange_config(ews, mailbox, protocol), **common}


def _env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(workdir)}


def capture(plugin: str, config: dict[str, Any], out: Path, timeout: float = 300) -> Path:
    """Run the tap once (catalog: only the streams the sync uses) and keep its Singer output."""
    return capture_tap(plugin, config, out, STREAMS[plugin], timeout)


@dataclass
class Attempt:
    """One target process: its exit code (``-9`` when killed) and how long it lived."""

    returncode: int
    seconds: float
    killed: bool
    state_emitted: bool


@dataclass
class TargetRunner:
    plugin: str
    config: dict[str, Any]
    input_file: Path
    workdir: Path

    def __post_init__(self) -> None:
        self.cfg = self.workdir / f"{self.plugin}.config.json"
        self.cfg.write_text(json.dumps(self.config))
        self.attempts: list[Attempt] = []

    def run(
        self,
        kill_after: float | None = None,
        timeout: float = 300,
        kill_when: Callable[[], bool] | None = None,
    ) -> Attempt:
        """Run once over the whole input; SIGKILL it ``kill_after`` seconds in, or as soon as
        ``kill_when()`` turns true (polled every 20 ms), if it is still running."""
        n = len(self.attempts)
        out_path = self.workdir / f"{self.plugin}.{n}.stdout"
        with (
            self.input_file.open("rb") as stdin,
            out_path.open("wb") as stdout,
            (self.workdir / f"{self.plugin}.{n}.stderr").open("wb") as stderr,
        ):
            started = time.monotonic()
            proc = subprocess.Popen(
                [str(BIN / self.plugin), "--config", str(self.cfg)],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=_env(self.workdir),
            )
            killed = False
            if kill_when is not None:
                deadline = started + timeout
                while proc.poll() is None and time.monotonic() < deadline:
                    if kill_when():
                        proc.send_signal(signal.SIGKILL)
                        killed = True
                        break
                    time.sleep(0.02)
                if proc.poll() is None and not killed:
                    proc.send_signal(signal.SIGKILL)  # the timeout: not a planned kill
                proc.wait(timeout=30)
            else:
                try:
                    proc.wait(timeout=kill_after if kill_after is not None else timeout)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    killed = kill_after is not None
            seconds = time.monotonic() - started
        attempt = Attempt(proc.returncode, seconds, killed, b"bookmarks" in out_path.read_bytes())
        self.attempts.append(attempt)
        return attempt

    def stderr_tail(self, lines: int = 40) -> str:
        n = len(self.attempts) - 1
        text = (self.workdir / f"{self.plugin}.{n}.stderr").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
