"""Fuzzing ``tabkit.load`` with mutated real model files, and hostile files.

Every mutated file must either be refused with a clean ``ModelFileError`` (or
``IncompatibleModelFileError``) or load into an object of exactly the
registered class its manifest names; when only the file's bytes were changed
(the checksums were not recomputed), a successful load must also predict
exactly as the original. The cases run in a child process
(``_model_file_fuzz.py``) so that its peak resident memory can be measured; an
address-space limit there turns a runaway allocation into a failing case
instead of an exhausted machine.

Mutations: byte flips, truncations, lies in the zip directory's fields, JSON
value / key / type mutations and deep nesting in ``state.json`` and
``manifest.json`` (checksums recomputed, so that they reach the decoder),
added / removed / renamed / duplicated members, ``.npy`` header and data
mutations, other compression methods, and members that inflate far beyond
their declared size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _model_file_fuzz import HOSTILE_MESSAGES, KINDS, MEMORY_BOUND_MIB, MIB

CHILD = Path(__file__).with_name("_model_file_fuzz.py")


pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="measures memory with POSIX resource limits"
)


def run_child(tmp_path: Path, seed: int, n_cases: int, hostile: bool) -> dict[str, Any]:
    """Run this file as a script: the hostile files, then ``n_cases`` mutations."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    command = [sys.executable, str(CHILD), str(tmp_path), str(seed), str(n_cases)]
    done = subprocess.run(
        [*command, "hostile" if hostile else "-"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def child_report(tmp_path_factory):
    return run_child(tmp_path_factory.mktemp("fuzz"), seed=0, n_cases=300, hostile=True)


def check_fuzz_report(report: dict[str, Any], n_cases: int) -> None:
    failures = report["failures"]
    assert not failures, f"{len(failures)} failing cases, first ones:\n" + "\n\n".join(
        json.dumps(f, indent=1) for f in failures[:5]
    )
    assert report["cases"] == n_cases
    assert report["peak_growth_mib"] < MEMORY_BOUND_MIB
    assert set(report["by_kind"]) == set(KINDS)
    # the mutations reach the checks: most are refused, some load
    assert report["refused"] > n_cases // 2
    assert report["loaded"] > 0


def test_fuzzed_model_files_fail_cleanly(child_report):
    check_fuzz_report(child_report["fuzz"], 300)


@pytest.mark.slow
def test_fuzzed_model_files_fail_cleanly_many(tmp_path):
    check_fuzz_report(
        run_child(tmp_path, seed=1, n_cases=6000, hostile=False)["fuzz"], 6000
    )


def test_hostile_files_are_refused_in_bounded_memory(child_report):
    report = child_report["hostile"]
    assert report["peak_growth_mib"] < 64
    assert set(report["scenarios"]) == set(HOSTILE_MESSAGES)
    for name, (error, message, peak) in report["scenarios"].items():
        assert error in {"ModelFileError", "IncompatibleModelFileError"}, (
            name,
            message,
        )
        assert HOSTILE_MESSAGES[name] in message, (name, message)
        assert peak < 16 * MIB, (name, peak)
