"""S7.2: a target killed with SIGKILL mid-run, then re-run, ends as a run that never crashed.

The target runs as a user runs it (the console script, a Singer file of 1,000 new contacts). It is
killed once a few hundred creates reached Sell; the re-run must leave no duplicate and exactly
the contacts a clean run leaves in another account. Creates always go through the ledger's
intents; both ways of finding a crashed create again are covered: by its values (no
``exchange_id_field``) and by the exact Exchange id in that custom field.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_common.process import running_sandbox

pytestmark = pytest.mark.spec("S7.2")

COUNT = 1000
CRASH_TOKEN = "cr" + "x" * 62
CLEAN_TOKEN = "cl" + "x" * 62


def _script() -> str:
    return str(Path(sys.executable).with_name("target-sell-contacts"))


def _start(config: dict, input_file: Path, workdir: Path, name: str) -> subprocess.Popen:
    cfg = workdir / f"{name}.json"
    cfg.write_text(json.dumps(config))
    log = (workdir / f"{name}.log").open("w")
    return subprocess.Popen(
        [_script(), "--config", str(cfg), "--input", str(input_file)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )


def _shape(people: list[dict]) -> list[tuple]:
    return sorted((p["first_name"], p["last_name"], p["email"], p["mobile"]) for p in people)


@pytest.mark.slow
@pytest.mark.xdist_group("target-sell-crash")  # balances the meltano group under -n 2
@pytest.mark.parametrize("mode", ["intents", "id_field"])
def test_sigkill_then_rerun_equals_clean_run(mode, tmp_path, lines, make_record, tenant_factory):
    args = ["--rate-limit", "0", "--token", CRASH_TOKEN, "--token", CLEAN_TOKEN]
    extra: dict = {"max_in_flight": 8}  # no rate limit here: more threads, shorter test
    if mode == "id_field":
        extra["exchange_id_field"] = "Exchange ID"
    if mode == "intents":
        args.append("--no-custom-fields")
    records = [
        make_record(
            given_name=f"Crash{i}",
            surname=f"Test{i % 37}",
            email_address_1=f"crash{i}@x.example",
            phone_numbers={"MobilePhone": f"+1 646 555 {i:04d}"},
        )
        for i in range(COUNT)
    ]
    input_file = tmp_path / "contacts.singer"
    input_file.write_text(lines(records))
    with running_sandbox("sell-sandbox", args) as sandbox:
        crash = tenant_factory(sandbox, CRASH_TOKEN, tmp_path / "crash", **extra)
        clean = tenant_factory(sandbox, CLEAN_TOKEN, tmp_path / "clean", **extra)
        (tmp_path / "crash").mkdir()
        (tmp_path / "clean").mkdir()

        victim = _start(crash.config, input_file, tmp_path, "first")
        deadline = time.monotonic() + 120
        while sum(crash.api.writes().values()) < 300:
            assert victim.poll() is None, "the target finished before it could be killed"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        out, _ = victim.communicate(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        assert "bookmarks" not in out, "no STATE before the batch was written"
        written_before = len(crash.api.people())
        assert 0 < written_before < COUNT

        rerun = _start(crash.config, input_file, tmp_path, "rerun")
        out, _ = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, (tmp_path / "rerun.log").read_text()[-3000:]
        assert "bookmarks" in out

        crashed_people = crash.api.people()
        assert len(crashed_people) == COUNT, "no duplicate, nothing missing"
        expected = sorted(
            (f"Crash{i}", f"Test{i % 37}", f"crash{i}@x.example", f"+1646555{i:04d}")
            for i in range(COUNT)
        )
        assert _shape(crashed_people) == expected
        if mode == "intents":  # once is enough: a clean run in a second account agrees
            reference = _start(clean.config, input_file, tmp_path, "clean")
            reference.communicate(timeout=300)
            assert reference.returncode == 0
            assert _shape(clean.api.people()) == expected

        # The ledger knows every link: replaying the input writes nothing.
        sandbox.reset()
        crash.run(lines(records))
        assert crash.api.writes() == {}
