"""pytest plugin loaded for every run (``-p single_thread`` in pyproject.toml).

Tests, doctests and the executed documentation all run with one torch thread:
scikit-learn's checks run about 8x faster that way on small machines, and the
numbers shown in the docs are reproducible (float reductions depend on the
thread count).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)
