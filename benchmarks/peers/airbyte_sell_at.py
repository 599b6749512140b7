"""Run airbyte-source-zendesk-sell's own declarative manifest against another Sell base URL.

    .bench/airbyte-venv/bin/python benchmarks/peers/airbyte_sell_at.py BASE_URL read --config ...

The connector's base URL is fixed in its packaged manifest. This reads that manifest unchanged from
the installed package, replaces only ``definitions.requester.url_base`` in memory, and hands it
to the CDK's own entry point (``airbyte_cdk.entrypoint.launch``), the CLI the connector itself
runs. No third-party file is edited or copied into the repository. Runs in the peer's own venv.
"""

from __future__ import annotations

import sys
from importlib.resources import files

import yaml
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.sources.declarative.manifest_declarative_source import ManifestDeclarativeSource


def main() -> None:
    url_base, argv = sys.argv[1].rstrip("/") + "/v2", sys.argv[2:]
    manifest = yaml.safe_load(files("source_zendesk_sell").joinpath("manifest.yaml").read_text())
    manifest["definitions"]["requester"]["url_base"] = url_base
    launch(ManifestDeclarativeSource(manifest), argv)


if __name__ == "__main__":
    main()
