# SPDX-License-Identifier: BSD-3-Clause
"""mkdocs hooks: the benchmark results in the site, the docstrings' roles.

The pages link to ``../benchmarks/results/*.md`` and ``*.png`` (paths that work
when reading the repository on a forge). The site has no files outside
``docs/``, so this hook adds ``benchmarks/README.md`` and every committed
report and plot of ``benchmarks/results/`` to the site under
``benchmarks/``, and rewrites the pages' links one directory up to match. The
results are not copied into ``docs/``: there is one copy of each.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

_RESULT_SUFFIXES = {".md", ".png"}
# "](../benchmarks/" from docs/x.md, "](../../benchmarks/" from docs/a/x.md, ...
_OUTSIDE_LINK = re.compile(r"\]\(((?:\.\./)+)(benchmarks/)")
# benchmarks/README.md links back into docs/ as "../docs/..."
_BACK_LINK = re.compile(r"\]\(\.\./docs/")
# ":class:<code>~tabkit.relational.Table</code>" as mkdocstrings renders a role
_ROLE = re.compile(
    r":(?:class|func|meth|attr|mod|obj|data|exc|math):<code>(~?)([^<]+)</code>"
)


def _root(config: Any) -> Path:
    return Path(config["config_file_path"]).parent


def on_files(files: Files, config: Any) -> Files:
    """Add the benchmark reports, plots and README to the site's files."""
    root = _root(config)
    results = root / "benchmarks" / "results"
    paths = [root / "benchmarks" / "README.md"]
    paths += sorted(p for p in results.iterdir() if p.suffix in _RESULT_SUFFIXES)
    for path in paths:
        files.append(
            File(
                path.relative_to(root).as_posix(),
                src_dir=str(root),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


def on_page_markdown(markdown: str, *, page: Page, **_: Any) -> str:
    """Point links that leave ``docs/`` at the copies in the site."""
    if page.file.src_uri.startswith("benchmarks/"):
        depth = page.file.src_uri.count("/")
        return _BACK_LINK.sub("](" + "../" * depth, markdown)
    depth = page.file.src_uri.count("/")

    def relink(match: re.Match[str]) -> str:
        ups = match.group(1).count("../")
        if ups != depth + 1:  # not a link out of docs/
            return match.group(0)
        return "](" + "../" * depth + match.group(2)

    return _OUTSIDE_LINK.sub(relink, markdown)


def _role_name(match: re.Match[str]) -> str:
    name = match.group(2)
    if match.group(1):  # "~": the last part only
        name = name.rsplit(".", 1)[-1]
    return f"<code>{name}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """Show the docstrings' Sphinx roles as plain code names."""
    return _ROLE.sub(_role_name, html)
