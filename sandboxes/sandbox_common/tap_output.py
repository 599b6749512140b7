"""Run a tap once as its console script and keep its Singer output in a file.

A target can then be fed the very same input on every (re-)run, the way Meltano re-sends records
after a failed run (at-least-once). Shared by the cross-plugin tests and the plugins' own tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Collection
from pathlib import Path
from typing import Any

from sandbox_common.process import console_script


def capture_tap(
    plugin: str, config: dict[str, Any], out: Path, streams: Collection[str], timeout: float = 300
) -> Path:
    """Discover, select only ``streams``, run the tap, and write its stdout to ``out``.

    Its config, catalog and stderr log are left beside ``out``; ``HOME`` is that folder too, so
    no state of the user's leaks in.
    """
    workdir = out.parent
    env = {**os.environ, "HOME": str(workdir)}
    cfg = workdir / f"{plugin}.config.json"
    cfg.write_text(json.dumps(config))
    exe = console_script(plugin)
    discovered = subprocess.run(
        [exe, "--config", str(cfg), "--discover"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        env=env,
    )
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
    catalog_path = workdir / f"{plugin}.catalog.json"
    catalog_path.write_text(json.dumps(catalog))
    with out.open("w") as sink, (workdir / f"{plugin}.stderr.log").open("w") as log:
        subprocess.run(
            [exe, "--config", str(cfg), "--catalog", str(catalog_path)],
            stdout=sink,
            stderr=log,
            timeout=timeout,
            check=True,
            env=env,
        )
    return out
