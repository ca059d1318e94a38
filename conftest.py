"""pytest configuration for the executed README (the test suite's is in tests/).

The README's examples are the first code a user runs: any warning they raise (for
example a ``ConvergenceWarning`` because an example's fit stops at its step cap) is
an error there. Docs pages and docstrings may show warnings on purpose, so this is
scoped to README.md.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Turn every warning raised by the README's examples into an error."""
    for item in items:
        if item.path.name == "README.md" and item.path.parent == item.config.rootpath:
            item.add_marker(pytest.mark.filterwarnings("error"))
