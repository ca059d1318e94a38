# SPDX-License-Identifier: BSD-3-Clause
"""pytest plugin loaded for every run (``-p docs_pages`` in pyproject.toml).

Pages whose examples write files in the working directory, as a shell user's
commands do (``docs/cli.md``), run in a fresh temporary directory, and the
caller's working directory is restored afterwards whatever happens. (A
``docs/conftest.py`` would clash with ``tests/conftest.py``: pytest imports
both as the module ``conftest``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: Pages (file names under docs/) run in a temporary directory.
IN_TEMPORARY_DIRECTORY = {"cli.md"}


@pytest.fixture(autouse=True)
def _page_directory(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = request.node.path
    if path.parent.name == "docs" and path.name in IN_TEMPORARY_DIRECTORY:
        monkeypatch.chdir(tmp_path)
