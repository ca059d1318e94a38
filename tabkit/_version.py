# SPDX-License-Identifier: BSD-3-Clause
"""The tabkit version (read by the build backend and by model files)."""

__version__ = "0.1.0.dev0"
