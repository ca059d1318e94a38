# SPDX-License-Identifier: BSD-3-Clause
"""pytest set-up of the pages' examples (``--doctest-glob=*.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Pages whose examples write files in the working directory, as a shell user's
#: commands do: they run in a fresh temporary directory, and the caller's
#: working directory is restored afterwards whatever happens.
_IN_TEMPORARY_DIRECTORY = {"cli.md"}


@pytest.fixture(autouse=True)
def _page_directory(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.path.name in _IN_TEMPORARY_DIRECTORY:
        monkeypatch.chdir(tmp_path)
