# SPDX-License-Identifier: BSD-3-Clause
"""tabkit benchmark harness.

tabkit's estimators measured side by side with gradient-boosted trees on the
same splits, in the same run, following the protocol of
``docs/benchmarks.md``. The package sits outside ``tabkit`` (it imports
tabkit's public API only) and is run from the repository root:

.. code-block:: bash

    python -m benchmarks.run --suite foundation --models lightgbm,mlp \
        --seeds 0,1,2 --threads 1 --out benchmarks/results/foundation.csv
    python -m benchmarks.report benchmarks/results/foundation.csv \
        --out benchmarks/results/foundation.md

Modules
-------
protocol
    Splits and metrics.
datasets
    The dataset registry (``DATASETS``, ``SUITES``, ``register_dataset``).
models
    Model adapters and their registry (``MODELS``, ``register_model``).
measure
    One fit, measured: split, fit, predict timings, metrics.
store
    The results CSV: fixed header, crash-safe appends, repair, resume keys.
run
    The runner (``run_benchmark`` and its command line).
report
    The markdown report.
"""

from __future__ import annotations
