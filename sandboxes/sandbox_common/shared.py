"""Files beside the checkout: ``<repository root>/../shared/<name>``, as CI lays them out.

Microsoft's EWS schema and the other reference files are not ours to commit, so the tests look for
them next to the repository, an environment variable overrides the place, and a test that needs
them skips with the path it tried when they are absent, instead of failing obscurely.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root of this checkout (``sandboxes/sandbox_common/shared.py`` → two levels up).
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def shared_folder(name: str, variable: str) -> Path:
    """``$variable`` when set, else ``<repository root>/../shared/<name>``."""
    override = os.environ.get(variable)
    if override:
        return Path(override)
    return REPOSITORY_ROOT.parent / "shared" / name


def require_shared_file(path: Path, variable: str) -> Path:
    """``path`` when it exists; otherwise skip the calling test, saying what is missing and why."""
    if not path.is_file():
        import pytest  # noqa: PLC0415 - only tests call this; the sandboxes do not need pytest

        pytest.skip(
            f"schema checks not run: {path} does not exist; put the shared files at "
            f"{REPOSITORY_ROOT.parent / 'shared'} (beside the checkout) or set {variable}"
        )
    return path
