"""ews-sandbox's command line: cli.py checks every flag before anything is served (issue 12).

A bad flag is an argparse usage error (exit 2, one line saying what is wrong), never a traceback
from inside the server, and a malformed secret is never echoed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ews_sandbox.cli import build_parser, build_state


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        build_state(parser, parser.parse_args(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--auth", ""], "--auth: expected a comma-separated subset of basic,ntlm"),
        (["--fault-kinds", "slow,boom"], "--fault-kinds: unknown boom; choose from"),
        (["--fault-rate", "1.5"], "--fault-rate must be between 0 and 1, got 1.5"),
        (["--backoff-ms", "-5"], "--backoff-ms must be 0 or greater, got -5"),
        (["--slow-ms", "-1"], "--slow-ms must be 0 or greater, got -1"),
        (["--mailbox", "no-at-sign:pw"], "--mailbox expects ADDRESS:SECRET"),
    ],
)
def test_bad_flags_are_usage_errors(argv, message, capsys):
    assert message in usage_error(argv, capsys)


def test_a_malformed_secret_is_not_echoed(capsys):
    err = usage_error(["--oauth-token", "nobody:token-that-is-secret"], capsys)
    assert "--oauth-token expects ADDRESS:SECRET" in err
    assert "token-that-is-secret" not in err


def test_good_flags_build_the_state(tmp_path: Path):
    parser = build_parser()
    args = parser.parse_args(
        ["--mailbox", "A@Example.com:pw", "--oauth-token", "o@example.net:tok", "--auth",
         "basic", "--fault-rate", "0.5", "--fault-kinds", "slow", "--backoff-ms", "10",
         "--slow-ms", "20", "--record-responses", str(tmp_path / "rec")]
    )  # fmt: skip
    state = build_state(parser, args)
    assert set(state.mailboxes) == {"a@example.com", "o@example.net"}
    assert state.tokens["tok"] is state.mailboxes["o@example.net"]
    assert (state.basic, state.ntlm, state.backoff_ms, state.slow_ms) == (True, None, 10, 20)
    assert state.faults.kinds == ("slow",)
    assert (tmp_path / "rec").is_dir()


@pytest.mark.subprocess
def test_help_lists_every_flag():
    exe = Path(sys.executable).with_name("ews-sandbox")
    shown = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--mailbox", "--auth", "--oauth-token", "--backoff-ms", "--fault-kinds",
                 "--slow-ms", "--record-responses", "--seed", "--latency-ms", "--fault-rate",
                 "--tls-cert", "--tls-key"):  # fmt: skip
        assert flag in shown
