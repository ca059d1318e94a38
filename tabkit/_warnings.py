# SPDX-License-Identifier: BSD-3-Clause
"""Warnings that point at the user's code."""

from __future__ import annotations

import sys


def user_stacklevel() -> int:
    """Return the ``stacklevel`` of the first caller outside tabkit and scikit-learn.

    Pass it to :func:`warnings.warn` so that the warning names the line of user
    code that called into tabkit, however deep inside tabkit it is raised.

    Returns
    -------
    stacklevel : int

    Examples
    --------
    >>> from tabkit._warnings import user_stacklevel
    >>> user_stacklevel() >= 2
    True
    """
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and str(
        frame.f_globals.get("__name__", "")
    ).startswith(("tabkit.", "sklearn.")):
        level, frame = level + 1, frame.f_back
    return level
