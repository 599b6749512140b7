"""Refresh (or check) README's list of SPEC rules and the tests that pin each one.

A test pins a rule with ``@pytest.mark.spec("S5.2")`` (several rules allowed, on a test, a class
or a module's ``pytestmark``); ``pytest --spec S5.2`` runs them. The list is read from the test
files' syntax, without importing or running them, so it also covers ``orchestration/`` (another
virtualenv) and costs a fraction of a second. A mark the reader cannot place (built some other way
than those three) and a rule that SPEC does not have are errors, so the list cannot silently miss
a test. ``--check`` exits 1 when README is stale (used by the test suite).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", ".meltano", ".git", "node_modules", "__pycache__", ".hypothesis"}

#: SPEC §2, rule by rule: the id a test names and a few words on what it asks.
RULES: dict[str, str] = {
    "S1.1": "Exchange → Sell reads only the owner's private contact folders",
    "S1.2": "only contacts in the selected categories (and linked ones); a missing category stops",
    "S1.3": "Sell → Exchange syncs every contact and lead",
    "S2": "the fixed Sell categories, recomputed on every change",
    "S3.1": "the seven categories exist in the master list; everything else kept",
    "S3.2": "a renamed Sell category is restored and its contacts re-tagged",
    "S4.1": "matching by e-mail, then by name and phone",
    "S4.2": "links are one to one; the most recently updated candidate wins",
    "S4.3": "duplicates inside Exchange become their own Sell contacts",
    "S5.1": "three-way merge, field by field",
    "S5.2": "a conflict: the later record wins, the losing value is kept in Sell",
    "S5.3": "first link: a blank never overwrites a filled field",
    "S5.4": "fields without a counterpart are never cleared",
    "S5.5": "a conflict's winner reaches both sides in one round",
    "S6": "deletions are never propagated; lead conversions move the link",
    "S7.1": "the sync's own writes never come back as changes",
    "S7.2": "replays and crashes: no duplicates, the same end state",
    "S7.3": "after a quiet round both sides agree",
    "S8": "the field map",
    "S9": "incremental runs, batched and paced writes",
    "S10.1": "a rejected record is skipped, reported and retried when it changes",
    "S10.2": "transient failures are retried with back-off",
    "S10.3": "bad configuration or credentials: a clear message before any write",
    "S11": "security: secrets, TLS, tenant scoping",
    "S12": "the run report",
    "S13.1": "EWS and Microsoft Graph: every rule over both",
    "S13.2": "switching protocol loses, duplicates and re-writes nothing",
    "S13.3": "Graph: app-only, Retry-After, 4 requests at once, $batch",
    "S14": "preview (dry_run)",
    "S15.1": "tenants added and removed while the system runs",
    "S15.2": "one run per tenant at a time, tenants in parallel",
    "S15.3": "a tenant's run touches only its own data",
}
BEGIN, END = "<!-- rules -->", "<!-- /rules -->"


class MarkError(Exception):
    """A spec mark that cannot be read, or names no rule of SPEC."""


@dataclass(frozen=True)
class Pin:
    """One test (``path::name`` or ``path::Class::name``) and the rules it pins."""

    test: str
    rules: tuple[str, ...]


def collected_files(root: Path = ROOT) -> Iterator[Path]:
    """What pytest collects by default: ``test_*.py`` and ``*_test.py`` below a ``tests`` folder."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        if "tests" not in Path(folder).relative_to(root).parts:
            continue
        found += [Path(folder, f) for f in files if f.endswith(".py") and f.startswith("test_")] + [
            Path(folder, f) for f in files if f.endswith("_test.py")
        ]
    yield from sorted(found)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_spec_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func).endswith("mark.spec")


def _spec_rules(node: ast.expr, where: str) -> tuple[str, ...]:
    """The rules of one mark expression (another mark: none)."""
    if not _is_spec_call(node):
        return ()
    assert isinstance(node, ast.Call)
    rules = []
    for arg in node.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            msg = f"{where}: spec() takes rule ids as string literals"
            raise MarkError(msg)
        rules.append(arg.value)
    if not rules or node.keywords:
        msg = f"{where}: spec() takes one or more rule ids and nothing else"
        raise MarkError(msg)
    return tuple(rules)


def _pytestmark(body: list[ast.stmt], where: str) -> tuple[tuple[str, ...], set[int]]:
    """Rules of a ``pytestmark = mark`` or ``= [marks]`` in ``body``, and the calls read."""
    rules: list[str] = []
    seen: set[int] = set()
    for stmt in body:
        if not (
            isinstance(stmt, ast.Assign | ast.AnnAssign)
            and any(
                _dotted(t) == "pytestmark"
                for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
            )
            and stmt.value is not None
        ):
            continue
        value = stmt.value
        marks = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
        for mark in marks:
            rules += _spec_rules(mark, f"{where}:{mark.lineno}")
            seen.add(id(mark))
    return tuple(rules), seen


def _decorated(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, where: str
) -> tuple[str, ...]:
    rules: list[str] = []
    for deco in node.decorator_list:
        rules += _spec_rules(deco, f"{where}:{deco.lineno}")
    return tuple(rules)


def _is_test(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")


def pins_of(path: Path, root: Path = ROOT) -> list[Pin]:
    """Every test function of one file with the rules marked on it, its class and its module."""
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(), filename=rel)
    module_rules, read = _pytestmark(tree.body, rel)
    pins: list[Pin] = []
    for node in tree.body:
        if _is_test(node):
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            read.update(id(d) for d in node.decorator_list)
            rules = module_rules + _decorated(node, rel)
            pins.append(Pin(f"{rel}::{node.name}", rules))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            read.update(id(d) for d in node.decorator_list)
            class_rules, class_read = _pytestmark(node.body, rel)
            read |= class_read
            class_rules = module_rules + _decorated(node, rel) + class_rules
            for method in node.body:
                if _is_test(method):
                    assert isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
                    read.update(id(d) for d in method.decorator_list)
                    rules = class_rules + _decorated(method, rel)
                    pins.append(Pin(f"{rel}::{node.name}::{method.name}", rules))
    stray = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and _is_spec_call(n) and id(n) not in read
    ]
    if stray:
        lines = ", ".join(str(n.lineno) for n in stray)
        msg = (
            f"{rel}: line(s) {lines}: a spec mark must decorate a test or class, or be in "
            "pytestmark, for this list to see it"
        )
        raise MarkError(msg)
    unknown = sorted({r for p in pins for r in p.rules} - RULES.keys())
    if unknown:
        msg = f"{rel}: {', '.join(unknown)} is not a rule of SPEC §2 (known: {', '.join(RULES)})"
        raise MarkError(msg)
    return [Pin(p.test, tuple(dict.fromkeys(p.rules))) for p in pins]


def all_pins(root: Path = ROOT) -> list[Pin]:
    return [pin for path in collected_files(root) for pin in pins_of(path, root)]


def rules_section(pins: list[Pin]) -> str:
    by_rule: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pin in pins:
        path, _, name = pin.test.partition("::")
        for rule in pin.rules:
            by_rule[rule][path].append(name)
    lines = []
    for rule, what in RULES.items():
        files = by_rule.get(rule)
        lines.append(f"- **{rule}** {what}" + ("" if files else " — *no test pins it yet*"))
        for path, names in sorted((files or {}).items()):
            lines.append(f"  - `{path}`: " + ", ".join(f"`{n}`" for n in names))
    return "\n".join(lines)


def refreshed(text: str, pins: list[Pin]) -> str:
    pattern = re.compile(rf"({re.escape(BEGIN)}\n)(?:.*?\n)?({re.escape(END)})", re.DOTALL)
    if not pattern.search(text):
        msg = f"README.md lacks the markers {BEGIN} … {END}"
        raise SystemExit(msg)
    section = rules_section(pins)
    return pattern.sub(lambda m: m.group(1) + section + "\n" + m.group(2), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    current = readme.read_text()
    try:
        new = refreshed(current, all_pins())
    except MarkError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        if new != current:
            print("README.md's rules list is stale: run `make readme`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
