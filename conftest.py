"""Repository-wide pytest hooks.

- ``--spec S5.2`` runs the tests that pin a SPEC rule (``@pytest.mark.spec``; ``S5`` selects S5.x).
- ``--unit`` (``make unit``) runs the fast in-memory tests: no test marked ``e2e``, ``slow``,
  ``postgres`` or ``subprocess``, and a test that starts a child process anyway (a sandbox, a
  plugin, meltano) fails saying so, so a missing mark cannot quietly make ``make unit`` slow.
"""

from __future__ import annotations

import multiprocessing.process
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

NOT_UNIT = ("e2e", "slow", "postgres", "subprocess")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spec",
        action="append",
        default=[],
        metavar="RULE",
        help="run only tests marked @pytest.mark.spec(...) for RULE (S5 selects S5.1, S5.2, ...)",
    )
    parser.addoption(
        "--unit",
        action="store_true",
        help=f"run only the fast in-memory tests (none marked {', '.join(NOT_UNIT)}); "
        "a test that starts a child process fails",
    )


def _pins(rules: tuple[str, ...], wanted: str) -> bool:
    return any(rule == wanted or rule.startswith(wanted + ".") for rule in rules)


def _keep(item: pytest.Item, config: pytest.Config) -> bool:
    wanted: list[str] = config.getoption("--spec")
    if wanted:
        rules = tuple(r for m in item.iter_markers("spec") for r in m.args)
        if not any(_pins(rules, w) for w in wanted):
            return False
    return not (config.getoption("--unit") and any(item.get_closest_marker(m) for m in NOT_UNIT))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        (keep if _keep(item, config) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class ChildProcessInUnitTestError(RuntimeError):
    """A test run by ``--unit`` started a child process."""


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        msg = (
            f"--unit runs in-memory tests only, and this one started {what}: mark it "
            "@pytest.mark.subprocess (or e2e/slow) so make unit leaves it to make test"
        )
        raise ChildProcessInUnitTestError(msg)

    return refuse


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    """Under ``--unit``, starting a process fails the test, in its own body or in any fixture it
    sets up (session ones included): checked, not trusted to the marks."""
    if not item.config.getoption("--unit"):
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", _refuse("a subprocess"))
        patch.setattr(os, "fork", _refuse("a forked process"))
        patch.setattr(
            multiprocessing.process.BaseProcess, "start", _refuse("a multiprocessing process")
        )
        return (yield)
