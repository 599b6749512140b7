"""README's list of SPEC rules and the tests that pin them stays true (tools/readme_rules.py).

The list is read from the test files' syntax; these tests show it is current, that it sees each
way a mark can be written, that what it cannot read is an error rather than a gap, and that it
agrees with what pytest itself collects.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools import readme_rules
from tools.readme_rules import RULES, MarkError, Pin, all_pins, pins_of, refreshed


def test_readme_lists_every_rule_with_the_tests_that_pin_it_now():
    readme = (ROOT / "README.md").read_text()
    assert refreshed(readme, all_pins()) == readme, "README.md is stale: run `make readme`"


def test_rules_are_the_rules_of_spec():
    """Every rule of SPEC §2 is listed, no other (SPEC lives beside the checkout, not in it)."""
    spec = ROOT.parent / "shared" / "SPEC.md"
    if not spec.is_file():
        pytest.skip(f"no SPEC at {spec} to compare against")
    text = spec.read_text()
    leaves = set(re.findall(r"^- (S\d+\.\d+) ", text, re.MULTILINE))
    sections = set(re.findall(r"^### (S\d+) ", text, re.MULTILINE))
    whole = {s for s in sections if not any(r.startswith(s + ".") for r in leaves)}
    assert set(RULES) == leaves | whole


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / "pkg" / "tests" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_marks_on_tests_classes_and_modules_are_all_read(tmp_path):
    path = _write(
        tmp_path,
        "test_sample.py",
        """
        import pytest
        from pytest import mark

        pytestmark = [pytest.mark.e2e, pytest.mark.spec("S9")]

        @pytest.mark.spec("S5.1", "S5.2")
        @pytest.mark.parametrize("x", [1, 2])
        def test_function(x): ...

        def test_module_mark_only(): ...

        @mark.spec("S6")
        class TestClass:
            pytestmark = pytest.mark.spec("S7.2")

            @pytest.mark.spec("S6")
            def test_method(self): ...

            def helper(self): ...

        def helper(): ...
        """,
    )
    assert pins_of(path, tmp_path) == [
        Pin("pkg/tests/test_sample.py::test_function", ("S9", "S5.1", "S5.2")),
        Pin("pkg/tests/test_sample.py::test_module_mark_only", ("S9",)),
        Pin("pkg/tests/test_sample.py::TestClass::test_method", ("S9", "S6", "S7.2")),
    ]
    assert [p.name for p in readme_rules.collected_files(tmp_path)] == ["test_sample.py"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('@pytest.mark.spec("S5.9")\ndef test_x(): ...', "S5.9 is not a rule"),
        ('@pytest.mark.spec("S5")\ndef test_x(): ...', "S5 is not a rule"),
        ('RULE = "S5.1"\n@pytest.mark.spec(RULE)\ndef test_x(): ...', "string literals"),
        ("@pytest.mark.spec()\ndef test_x(): ...", "one or more rule ids"),
        (
            '@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.spec("S6"))])\n'
            "def test_x(x): ...",
            "line(s) 2",
        ),
        ('PINS = pytest.mark.spec("S6")\n@PINS\ndef test_x(): ...', "line(s) 2"),
    ],
    ids=["unknown-rule", "section-not-rule", "not-a-literal", "empty", "per-param", "indirect"],
)
def test_what_the_list_cannot_read_is_an_error_not_a_gap(tmp_path, body, error):
    path = _write(tmp_path, "test_bad.py", "import pytest\n" + body + "\n")
    with pytest.raises(MarkError, match=re.escape(error)):
        pins_of(path, tmp_path)


def test_section_lists_each_rule_with_its_tests_or_says_none():
    section = readme_rules.rules_section(
        [Pin("a/tests/test_a.py::test_one", ("S6",)), Pin("a/tests/test_a.py::test_two", ("S6",))]
    )
    assert "- **S6** " in section
    assert "  - `a/tests/test_a.py`: `test_one`, `test_two`" in section
    assert "- **S5.5** a conflict's winner reaches both sides in one round — *no test" in section


COLLECT = """
import json, sys
import pytest

class Marks:
    def __init__(self):
        self.found = {}

    def pytest_collection_finish(self, session):
        for item in session.items:
            base = item.nodeid.split("[")[0]
            rules = [r for m in item.iter_markers("spec") for r in m.args]
            self.found[base] = sorted(set(rules))

marks = Marks()
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[1:]], [marks])
print("MARKS " + json.dumps(marks.found))
sys.exit(code)
"""


@pytest.mark.subprocess
def test_the_list_agrees_with_what_pytest_collects():
    """pytest's own view of the marks (collected, not run) for a few packages' tests."""
    folders = ["contact-mapping/tests", "exchange-mailbox/tests", "tap-sell/tests"]
    proc = subprocess.run(
        [sys.executable, "-c", COLLECT, *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("MARKS ")]
    collected = json.loads(line.removeprefix("MARKS "))
    ours = {p.test: sorted(set(p.rules)) for p in all_pins() if p.test.startswith(tuple(folders))}
    # pytest also collects classes the syntax cannot see (singer-sdk's generated suites).
    assert {k: v for k, v in collected.items() if k in ours} == ours
    assert not {k: v for k, v in collected.items() if k not in ours and v}
    assert set(ours) <= set(collected)
