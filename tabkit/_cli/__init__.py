# SPDX-License-Identifier: BSD-3-Clause
"""The modules behind the ``tabkit`` command line (:mod:`tabkit.cli`).

One module per command: ``_fit`` (``fit`` and ``predict``), ``_bench``,
``_db`` and ``_demo``; ``_common`` holds what they share (reading tables,
``--param`` values, errors and warnings on the terminal). Each command module
has ``add_parser(subparsers)``, which registers the command with its
``run(args) -> int`` as the handler. The command line uses tabkit's public
API only.
"""
