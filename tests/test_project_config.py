"""meltano.yml and README stay true to what the plugins accept.

Every setting a plugin declares (apart from the SDK's built-ins) is declared in meltano.yml, and
exactly the plugin's secrets are `sensitive` there, so `meltano config` masks them; README's
settings tables are the plugins' own `--about` output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.subprocess

PLUGINS = ("tap-exchange-contacts", "tap-sell", "target-sell-contacts", "target-exchange")
SDK_BUILTINS = {
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
    "add_record_metadata",
    "load_method",
    "batch_size_rows",
    "validate_records",
}


def _about(plugin: str) -> dict:
    exe = Path(sys.executable).with_name(plugin)
    out = subprocess.run(
        [str(exe), "--about", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def _declared(plugin: str) -> dict[str, dict]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for kind in ("extractors", "loaders"):
        for entry in project["plugins"][kind]:
            if entry["name"] == plugin:
                return {s["name"]: s for s in entry["settings"]}
    raise AssertionError(f"{plugin} is not in meltano.yml")


@pytest.mark.spec("S11")
@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_yml_declares_every_setting_and_marks_secrets(plugin):
    properties = _about(plugin)["settings"]["properties"]
    own = {name: spec for name, spec in properties.items() if name not in SDK_BUILTINS}
    declared = _declared(plugin)
    assert set(own) == set(declared), {
        "missing in meltano.yml": sorted(set(own) - set(declared)),
        "unknown to the plugin": sorted(set(declared) - set(own)),
    }
    secrets = {name for name, spec in own.items() if spec.get("secret")}
    sensitive = {name for name, spec in declared.items() if spec.get("sensitive")}
    assert secrets == sensitive


def test_readme_settings_tables_are_the_plugins_about_output():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_settings.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_prod_catalogs_are_discovery_plus_select():
    """The `prod` environment's committed catalogs (no discovery per orchestrated run) are what
    discovery and meltano.yml's select rules give; `make catalogs` refreshes them."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "prod_catalogs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
