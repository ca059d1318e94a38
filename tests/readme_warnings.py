"""pytest plugin loaded for every run (``-p readme_warnings`` in pyproject.toml).

The README's examples are the first code a user runs: any warning they raise (for
example a ``ConvergenceWarning`` because an example's fit stops at its step cap) is
an error there. Docs pages and docstrings may show warnings on purpose, so this is
scoped to the top-level README.md.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Turn every warning raised by the README's examples into an error."""
    readme = config.rootpath / "README.md"
    for item in items:
        if item.path == readme:
            item.add_marker(pytest.mark.filterwarnings("error"))
