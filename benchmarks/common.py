"""Shared pieces of the benchmarks: sandboxes, plugin configs, timed plugin runs, tables.

Every benchmark starts the sandboxes and the plugins the way a user does (console scripts of
SPEC §3, plugins as processes piped tap → target), so the numbers include interpreter start-up and
Singer serialisation. Peak memory is the kernel's ``ru_maxrss`` of each plugin process, read with
``os.wait4`` on that process alone (not polled, so no spike is missed), as is its CPU time (user +
system seconds), which moves far less with a loaded machine than wall seconds do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from graph_sandbox.testing import CLIENT_ID, SECRET, TENANT, graph_settings
from sandbox_common.process import SandboxProcess, running_sandbox
from sell_sandbox import tenant_key

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "bench" + "0" * 59
MAILBOX = "bench@example.com"
PASSWORD = "bench-password"  # noqa: S105 - the sandbox mailbox's test password
CATEGORIES = ["Clients", "Partners", "VIP"]
EWS_VERSION = "15.1.2507.6"
RUN_TIMEOUT_S = 3600.0
PROTOCOLS = ("ews", "graph")
GRAPH_ARGS = ("--tls", "--app", f"{TENANT}:{CLIENT_ID}:{SECRET}")
"""exchange-sandbox serving Microsoft Graph too: https (msal wants it) and the bench's app."""
HTTP_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"})


def add_protocol_option(parser: argparse.ArgumentParser, runs: str) -> None:
    """``--protocol ews|graph|both``: how both Exchange plugins reach the mailbox; ``runs`` says
    what ``both`` runs over each protocol."""
    parser.add_argument(
        "--protocol",
        choices=("ews", "graph", "both"),
        default="ews",
        help=f"how both Exchange plugins reach the mailbox; both = {runs} over each",
    )


def protocols_of(option: str) -> list[str]:
    """``--protocol`` values: ``ews``, ``graph`` or ``both`` (EWS first, the baseline)."""
    return list(PROTOCOLS) if option == "both" else [option]


def operation_protocol(operation: str) -> str:
    """Graph operations are counted as ``METHOD /template``, EWS ones by SOAP operation name."""
    return "graph" if operation.split(" ", 1)[0] in HTTP_METHODS else "ews"


@dataclass(frozen=True)
class ExchangeRequests:
    """One mailbox's requests of one protocol since the last reset; a ``$batch`` is one request,
    its sub-requests are counted apart (``batched_*``)."""

    reads: int = 0
    writes: int = 0
    batched_reads: int = 0
    batched_writes: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    throttled: int = 0  # answers 429 (whole requests)

    @property
    def total(self) -> int:
        return self.reads + self.writes

    @property
    def batched(self) -> int:
        return self.batched_reads + self.batched_writes

    @classmethod
    def of(cls, tenant: dict, protocol: str) -> ExchangeRequests:
        def mine(counts: dict[str, int]) -> dict[str, int]:
            return {op: n for op, n in counts.items() if operation_protocol(op) == protocol}

        reads, writes = mine(tenant.get("reads", {})), mine(tenant.get("writes", {}))
        batched = tenant.get("batched", {})
        return cls(
            reads=sum(reads.values()),
            writes=sum(writes.values()),
            batched_reads=sum(batched.get("reads", {}).values()),
            batched_writes=sum(batched.get("writes", {}).values()),
            by_operation=dict(Counter(reads) + Counter(writes)),
            throttled=int(tenant.get("statuses", {}).get("429", 0)) if protocol == "graph" else 0,
        )


def machine_line() -> str:
    """Where a table was measured: the date, cores and Python, printed under every table."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return f"{today}, {os.cpu_count()} cores (nproc), Python {platform.python_version()}"


def workdir(name: str) -> Path:
    """A fresh folder under the gitignored ``.bench/`` for configs, states, logs and reports."""
    path = ROOT / ".bench" / f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    path.mkdir(parents=True)
    return path


@dataclass
class Sandboxes:
    sell: SandboxProcess
    ews: SandboxProcess  # exchange-sandbox: EWS, and Graph when started with GRAPH_ARGS
    protocol: str = "ews"  # the one the plugins use

    def reset(self) -> None:
        self.sell.reset()
        self.ews.reset()

    def sell_requests(self) -> tuple[int, int]:
        """(reads, writes) of the benchmark token since the last reset."""
        mine = self.sell.stats().get("by_tenant", {}).get(tenant_key(TOKEN), {})
        return int(mine.get("total_reads", 0)), int(mine.get("total_writes", 0))

    def ews_requests(self) -> tuple[int, int]:
        """(reads, writes) of the benchmark mailbox since the last reset."""
        mine = self.ews.stats().get("by_tenant", {}).get(MAILBOX, {})
        return int(mine.get("total_reads", 0)), int(mine.get("total_writes", 0))

    def exchange_requests(self, protocol: str | None = None) -> ExchangeRequests:
        """The benchmark mailbox's requests over ``protocol`` (the plugins' one by default)."""
        return mailbox_requests(self.ews, protocol or self.protocol)


def mailbox_requests(exchange: SandboxProcess, protocol: str) -> ExchangeRequests:
    return ExchangeRequests.of(exchange.stats().get("by_tenant", {}).get(MAILBOX, {}), protocol)


@contextmanager
def exchange_sandbox(args: Sequence[str] = (), *, graph: bool = False) -> Iterator[SandboxProcess]:
    """exchange-sandbox with the benchmark mailbox; ``graph``: over https with the bench's app."""
    extra = list(GRAPH_ARGS) if graph else []
    with running_sandbox(
        "exchange-sandbox", ["--mailbox", f"{MAILBOX}:{PASSWORD}", *extra, *args], timeout=600
    ) as exchange:
        yield exchange


@contextmanager
def sandboxes(
    sell_args: Sequence[str] = (), ews_args: Sequence[str] = (), *, protocol: str = "ews"
) -> Iterator[Sandboxes]:
    """Both sandboxes with one benchmark tenant each (token / mailbox), started for the block;
    the plugins reach the mailbox over ``protocol``."""
    with ExitStack() as stack:
        sell = stack.enter_context(
            running_sandbox("sell-sandbox", ["--token", TOKEN, *sell_args], timeout=600)
        )
        ews = stack.enter_context(exchange_sandbox(ews_args, graph=protocol == "graph"))
        yield Sandboxes(sell=sell, ews=ews, protocol=protocol)


def exchange_config(ews: SandboxProcess, protocol: str = "ews") -> dict:
    """Both Exchange plugins' connection settings for the benchmark mailbox over ``protocol``."""
    if protocol == "graph":
        return graph_settings(ews, MAILBOX)
    config = {
        "service_endpoint": f"{ews.base_url}/EWS/Exchange.asmx",
        "primary_smtp_address": MAILBOX,
        "username": MAILBOX,
        "password": PASSWORD,
        "server_version": EWS_VERSION,
    }
    return config | ({"ca_bundle": ews.cafile} if ews.cafile else {})


def sell_config(sell: SandboxProcess, *, requests_per_second: float = 0) -> dict:
    return {
        "api_token": TOKEN,
        "api_url": sell.base_url,
        "requests_per_second": requests_per_second,
    }


@dataclass
class PluginConfigs:
    """Config files of the four plugins of one tenant, sharing one ledger."""

    work: Path
    tap_exchange: Path
    tap_sell: Path
    target_sell: Path
    target_exchange: Path

    @classmethod
    def write(cls, work: Path, boxes: Sandboxes, *, sell_rps: float = 0) -> PluginConfigs:
        ledger = f"sqlite:///{work / 'ledger.db'}"
        configs = {
            "tap_exchange": exchange_config(boxes.ews, boxes.protocol) | {"categories": CATEGORIES},
            "tap_sell": sell_config(boxes.sell, requests_per_second=sell_rps),
            "target_sell": sell_config(boxes.sell, requests_per_second=sell_rps)
            | {
                "tenant": "bench",
                "ledger_url": ledger,
                "exchange_id_field": "Exchange ID",
                "overwritten_values_field": "Overwritten values",
                "report_path": str(work / "report-target-sell.json"),
            },
            "target_exchange": exchange_config(boxes.ews, boxes.protocol)
            | {
                "tenant": "bench",
                "ledger_url": ledger,
                "report_path": str(work / "report-target-exchange.json"),
            },
        }
        paths = {}
        for name, config in configs.items():
            paths[name] = work / f"{name}.json"
            paths[name].write_text(json.dumps(config))
        return cls(work=work, **paths)


@dataclass
class ProcessResult:
    name: str
    returncode: int
    max_rss_mb: float
    cpu_s: float = 0.0


@dataclass
class RunResult:
    """One timed run: wall seconds, each process's exit code and peak RSS, the final state."""

    seconds: float
    processes: list[ProcessResult] = field(default_factory=list)
    state: dict | None = None
    output_lines: int = 0

    @property
    def ok(self) -> bool:
        return all(p.returncode == 0 for p in self.processes)

    def rss(self, name: str) -> float:
        return next(p.max_rss_mb for p in self.processes if p.name == name)

    @property
    def cpu_s(self) -> float:
        """CPU-seconds (user + system) of every process of the pipeline."""
        return sum(p.cpu_s for p in self.processes)


def _reap(proc: subprocess.Popen, out: dict) -> None:
    """Wait for one child with wait4, which gives that child's own peak RSS (KiB on Linux) and
    CPU time."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out["rss"] = usage.ru_maxrss / 1024
    out["cpu"] = usage.ru_utime + usage.ru_stime


def run_processes(
    argvs: Sequence[tuple[str, list[str]]],
    *,
    log_dir: Path,
    stdin_path: Path | None = None,
    stdout_path: Path | None = None,
    timeout: float = RUN_TIMEOUT_S,
) -> RunResult:
    """Run ``argvs`` as a pipeline (each stdout into the next stdin), timed as a whole."""
    procs: list[subprocess.Popen] = []
    started = time.monotonic()
    with ExitStack() as stack:
        stdin = stack.enter_context(stdin_path.open("rb")) if stdin_path else subprocess.DEVNULL
        last_out = (
            stack.enter_context(stdout_path.open("wb")) if stdout_path else subprocess.DEVNULL
        )
        for index, (name, argv) in enumerate(argvs):
            is_last = index == len(argvs) - 1
            log = stack.enter_context((log_dir / f"{name}.log").open("ab"))
            proc = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=last_out if is_last else subprocess.PIPE,
                stderr=log,
            )
            if procs and procs[-1].stdout is not None:
                procs[-1].stdout.close()  # the next process owns the pipe now
            stdin = proc.stdout
            procs.append(proc)
        reaped = [{} for _ in procs]
        threads = [
            threading.Thread(target=_reap, args=(p, r), daemon=True)
            for p, r in zip(procs, reaped, strict=True)
        ]
        for thread in threads:
            thread.start()
        deadline = started + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
            for thread in threads:
                thread.join(30)
            msg = f"{[n for n, _ in argvs]} did not finish within {timeout:.0f}s"
            raise TimeoutError(msg)
    seconds = time.monotonic() - started
    return RunResult(
        seconds=seconds,
        processes=[
            ProcessResult(
                name=name,
                returncode=p.returncode or 0,
                max_rss_mb=r.get("rss", 0.0),
                cpu_s=r.get("cpu", 0.0),
            )
            for (name, _), p, r in zip(argvs, procs, reaped, strict=True)
        ],
    )


def last_state(path: Path) -> tuple[dict | None, int]:
    """The last state a target wrote (what Meltano would store) and its line count.

    singer-sdk targets write each state as a bare JSON value line; a STATE message is also read.
    """
    state, lines = None, 0
    with path.open() as handle:
        for line in handle:
            lines += 1
            if not line.strip():
                continue
            message = json.loads(line)
            if isinstance(message, dict) and message.get("type") == "STATE":
                state = message["value"]
            elif isinstance(message, dict) and "bookmarks" in message:
                state = message
    return state, lines


@dataclass
class Direction:
    """One sync direction (tap → target) with its own Singer state carried between runs."""

    name: str
    tap: str
    tap_config: Path
    target: str
    target_config: Path
    work: Path
    catalog: Path | None = None
    state: dict | None = None
    runs: int = 0

    def run(self, timeout: float = RUN_TIMEOUT_S) -> RunResult:
        self.runs += 1
        tap_argv = [str(BIN / self.tap), "--config", str(self.tap_config)]
        if self.catalog:
            tap_argv += ["--catalog", str(self.catalog)]
        if self.state:
            state_path = self.work / f"{self.name}-state-{self.runs}.json"
            state_path.write_text(json.dumps(self.state))
            tap_argv += ["--state", str(state_path)]
        out = self.work / f"{self.name}-out-{self.runs}.jsonl"
        result = run_processes(
            [
                (self.tap, tap_argv),
                (self.target, [str(BIN / self.target), "--config", str(self.target_config)]),
            ],
            log_dir=self.work,
            stdout_path=out,
            timeout=timeout,
        )
        if not result.ok:
            codes = {p.name: p.returncode for p in result.processes}
            msg = f"{self.name} run {self.runs} failed {codes}; logs in {self.work}"
            raise RuntimeError(msg)
        state, _ = last_state(out)
        if state is not None:
            self.state = state
        result.state = state
        return result

    def prime(self, timeout: float = RUN_TIMEOUT_S) -> float:
        """Read the whole system with the tap alone and keep only its final state."""
        argv = [str(BIN / self.tap), "--config", str(self.tap_config)]
        if self.catalog:
            argv += ["--catalog", str(self.catalog)]
        out = self.work / f"{self.name}-prime.jsonl"
        result = run_processes(
            [(self.tap, argv)], log_dir=self.work, stdout_path=out, timeout=timeout
        )
        if not result.ok:
            msg = f"priming {self.name} failed; logs in {self.work}"
            raise RuntimeError(msg)
        self.state, _ = last_state(out)
        out.unlink()
        return result.seconds


def directions(configs: PluginConfigs) -> tuple[Direction, Direction]:
    """Exchange → Sell and Sell → Exchange, in the order the two-way-sync job runs them."""
    to_sell = Direction(
        name="exchange-to-sell",
        tap="tap-exchange-contacts",
        tap_config=configs.tap_exchange,
        target="target-sell-contacts",
        target_config=configs.target_sell,
        work=configs.work,
    )
    to_exchange = Direction(
        name="sell-to-exchange",
        tap="tap-sell",
        tap_config=configs.tap_sell,
        target="target-exchange",
        target_config=configs.target_exchange,
        work=configs.work,
    )
    return to_sell, to_exchange


def read_report(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Print (and return) one markdown table with its title and the machine line."""
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    lines += ["", f"_{machine_line()}_", ""]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def selected_catalog(tap: str, config: Path, streams: Sequence[str], out: Path) -> Path:
    """Discover ``tap``'s catalog and select only ``streams`` (as meltano.yml's ``select``)."""
    discovered = subprocess.run(
        [str(BIN / tap), "--config", str(config), "--discover"],
        capture_output=True,
        check=True,
        timeout=300,
    )
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] in streams
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = chosen
    out.write_text(json.dumps(catalog))
    return out


def select_streams(configs: PluginConfigs, to_sell: Direction, to_exchange: Direction) -> None:
    """The streams meltano.yml selects: contacts from Exchange; contacts, leads and lead
    conversions from Sell."""
    to_sell.catalog = selected_catalog(
        to_sell.tap, configs.tap_exchange, ["contacts"], configs.work / "catalog-exchange.json"
    )
    to_exchange.catalog = selected_catalog(
        to_exchange.tap,
        configs.tap_sell,
        ["contacts", "leads", "lead_conversions"],
        configs.work / "catalog-sell.json",
    )
