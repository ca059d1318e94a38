# SPDX-License-Identifier: BSD-3-Clause
"""``tabkit bench``: run a profile of the benchmark harness of a source checkout.

The harness is the top-level ``benchmarks`` package of tabkit's repository; it
is not installed with the package. This command finds it (on ``sys.path``, or
in the current directory) and hands the profile to the harness module that
runs it: ``benchmarks.tabular``, ``benchmarks.tuned`` or ``benchmarks.scaling``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from tabkit._cli._common import CommandError, HelpFormatter, text_table

#: Where the source checkout (and so the harness) comes from.
REPOSITORY = "https://github.com/tabkit/tabkit"

DESCRIPTION = """\
Run a benchmark profile of tabkit's harness and write its results CSV.

A profile fixes datasets, seeds, the training-row cap and the per-fit time
budget of the neural models (`tabkit bench --list` shows them). The harness
is the `benchmarks` package of tabkit's source checkout, not part of the
installed package: run this command from the root of a checkout (or with
the checkout on PYTHONPATH). It resumes: fits already recorded in the CSV
are skipped.

--models, --datasets and --out are passed on; so is any other option, to the
harness module that runs the profile (python -m benchmarks.tabular for most
profiles, benchmarks.tuned for `tuned`, benchmarks.scaling for `scaling`):
see `python -m benchmarks.tabular --help` for --seeds, --threads, --report,
--no-isolate and the rest.
"""

EPILOG = f"""\
examples:
  tabkit bench --list
  tabkit bench quick                          # the smoke-test profile
  tabkit bench quick --models lightgbm,boosted_nn --out quick.csv --report
  tabkit bench tuned --datasets german_credit --seeds 0 --threads 1

without a checkout:
  git clone {REPOSITORY}
  cd tabkit && pip install -e '.[bench]' && tabkit bench --list
"""

#: Harness module per ``Profile.runner``.
RUNNERS = {
    "tabular": "benchmarks.tabular",
    "tuned": "benchmarks.tuned",
    "scaling": "benchmarks.scaling",
}


def add_parser(sub: Any) -> None:
    """Register ``bench`` on the ``tabkit`` subparsers.

    Parameters
    ----------
    sub : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.

    Examples
    --------
    >>> import argparse
    >>> from tabkit._cli._bench import add_parser
    >>> parser = argparse.ArgumentParser(prog="tabkit")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["bench", "quick", "--models", "lightgbm"]).models
    ['lightgbm']
    """
    bench = sub.add_parser(
        "bench",
        help="run a benchmark profile (needs a source checkout)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    bench.add_argument(
        "profile", metavar="PROFILE", nargs="?", help="profile to run (see --list)"
    )
    bench.add_argument("--list", action="store_true", help="list the profiles")
    bench.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="models, comma- or space-separated (default: the profile's)",
    )
    bench.add_argument(
        "--datasets",
        nargs="+",
        metavar="DATASET",
        help="datasets, comma- or space-separated (default: the profile's)",
    )
    bench.add_argument(
        "--out", metavar="CSV", help="results CSV (default: the harness's)"
    )
    bench.set_defaults(handler=run, forwards_unknown=True)


def import_harness(module: str = "benchmarks.profiles") -> ModuleType:
    """Import a module of the benchmark harness, or explain how to get it.

    The harness is importable when the root of a source checkout is on
    ``sys.path``; when it is not but the current directory holds the
    harness, the current directory is added.

    Parameters
    ----------
    module : str, default="benchmarks.profiles"
        The harness module.

    Returns
    -------
    module : module

    Raises
    ------
    CommandError
        When no harness can be found: the message says where it comes from.

    Examples
    --------
    >>> from tabkit._cli._bench import import_harness
    >>> import_harness().PROFILES["quick"].runner  # in a source checkout
    'tabular'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name not in {"benchmarks", module}:
            raise CommandError(
                f"the benchmark harness needs {exc.name!r}, which is not "
                "installed: pip install -e '.[bench]' in the source checkout"
            ) from None
    here = Path.cwd()
    if (here / "benchmarks" / "profiles.py").is_file() and str(here) not in sys.path:
        sys.path.insert(0, str(here))
        sys.modules.pop("benchmarks", None)
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError:
            pass
    raise CommandError(
        "the benchmark harness (the `benchmarks` package) comes with tabkit's "
        "source checkout, not with the installed package. Get it with\n"
        f"  git clone {REPOSITORY}\n"
        "  cd tabkit && pip install -e '.[bench]'\n"
        "and run `tabkit bench` from the checkout's root directory"
    )


def profile_table(profiles: dict[str, Any]) -> pd.DataFrame:
    """One row per profile: what ``tabkit bench --list`` prints.

    Parameters
    ----------
    profiles : dict
        ``benchmarks.profiles.PROFILES``.

    Returns
    -------
    table : DataFrame

    Examples
    --------
    >>> from tabkit._cli._bench import import_harness, profile_table
    >>> table = profile_table(import_harness().PROFILES)
    >>> table.loc[table["profile"] == "quick", "runs with"].item()
    'benchmarks.tabular'
    """
    rows = []
    for name, p in profiles.items():
        rows.append(
            {
                "profile": name,
                "runs with": RUNNERS.get(p.runner, f"benchmarks.{p.runner}"),
                "datasets": len(p.datasets),
                "seeds": str(p.seeds)
                + "".join(f" ({n} {size})" for size, n in p.seeds_by_size),
                "train cap": f"{p.train_cap:,}" if p.train_cap else "none",
                "budget": f"{p.budget_s:g} s" if p.budget_s else "none",
                "purpose": p.purpose,
            }
        )
    return pd.DataFrame(rows)


def _joined(values: list[str] | None) -> str | None:
    if values is None:
        return None
    return ",".join(v.strip() for value in values for v in value.split(",") if v)


def run(args: argparse.Namespace) -> int:
    """Run ``tabkit bench`` (see ``tabkit bench --help``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; ``args.unknown`` holds the options passed on
        to the harness module.

    Returns
    -------
    status : int
        The harness module's exit status (0 with ``--list``).

    Examples
    --------
    >>> from tabkit.cli import main
    >>> main(["bench", "--list"])  # doctest: +ELLIPSIS
    profile   runs with ... purpose
    quick ...
    0
    """
    profiles_module = import_harness()
    profiles = profiles_module.PROFILES
    if args.list:
        table = profile_table(profiles)
        numeric = ["datasets", "seeds", "train cap", "budget"]
        sys.stdout.write(text_table(table, numeric=numeric) + "\n")
        return 0
    if args.profile is None:
        raise CommandError(
            "give a profile to run: one of "
            + ", ".join(profiles)
            + " (see tabkit bench --list)",
            status=2,
        )
    if args.profile not in profiles:
        raise CommandError(
            f"unknown profile {args.profile!r}; profiles: " + ", ".join(profiles),
            status=2,
        )
    profile = profiles[args.profile]
    module_name = RUNNERS.get(profile.runner, f"benchmarks.{profile.runner}")
    forwarded: list[str] = []
    if profile.runner == "tabular":
        forwarded += ["--profile", profile.name]
    for option, value in (
        ("--models", _joined(args.models)),
        ("--datasets", _joined(args.datasets)),
        ("--out", args.out),
    ):
        if value is not None:
            forwarded += [option, value]
    forwarded += list(getattr(args, "unknown", []))
    harness = import_harness(module_name)
    sys.stderr.write(
        "tabkit: running python -m " + " ".join([module_name, *forwarded]) + "\n"
    )
    return int(harness.main(forwarded) or 0)
