"""Repository-wide pytest hooks: select the tests that pin a SPEC rule (`--spec S5.2`)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spec",
        action="append",
        default=[],
        metavar="RULE",
        help="run only tests marked @pytest.mark.spec(...) for RULE (S5 selects S5.1, S5.2, ...)",
    )


def _pins(rules: tuple[str, ...], wanted: str) -> bool:
    return any(rule == wanted or rule.startswith(wanted + ".") for rule in rules)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted: list[str] = config.getoption("--spec")
    if not wanted:
        return
    keep, drop = [], []
    for item in items:
        rules = tuple(r for m in item.iter_markers("spec") for r in m.args)
        (keep if any(_pins(rules, w) for w in wanted) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
