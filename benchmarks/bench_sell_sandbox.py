"""Throughput of sell-sandbox list requests (per_page=100) with a few concurrent clients.

Run: .venv/bin/python benchmarks/bench_sell_sandbox.py [--clients 4] [--seconds 5]
Prints one Markdown table row; goal ≥ 200 requests/s.
"""

from __future__ import annotations

import argparse
import threading
import time

from sandbox_common.process import running_sandbox
from sell_sandbox import DEMO_TOKEN
from sell_sandbox.testing import session

SEED = 2000


def client(base_url: str, stop_at: float, counts: list[int], errors: list[int], index: int) -> None:
    http = session(DEMO_TOKEN)
    page, pages = 1, SEED // 100
    while time.monotonic() < stop_at:
        resp = http.get(f"{base_url}/v2/contacts", params={"per_page": 100, "page": page})
        if resp.status_code == 200 and len(resp.json()["items"]) == 100:
            counts[index] += 1
        else:
            errors[index] += 1
        page = page % pages + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with running_sandbox("sell-sandbox", ["--seed", str(SEED), "--rate-limit", "0"]) as sandbox:
        counts, errors = [0] * args.clients, [0] * args.clients
        stop_at = time.monotonic() + args.seconds
        started = time.monotonic()
        threads = [
            threading.Thread(target=client, args=(sandbox.base_url, stop_at, counts, errors, i))
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 30)
        elapsed = time.monotonic() - started
        served = sandbox.stats()["reads"].get("GET /v2/contacts", 0)
    rate = sum(counts) / elapsed
    print("| benchmark | clients | seconds | requests | errors | req/s | goal |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| sell-sandbox GET /v2/contacts per_page=100 (seed {SEED}) | {args.clients} |"
        f" {elapsed:.1f} | {sum(counts)} (server saw {served}) | {sum(errors)} |"
        f" {rate:.0f} | ≥ 200 |"
    )


if __name__ == "__main__":
    main()
