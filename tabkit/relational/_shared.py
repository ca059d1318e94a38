# SPDX-License-Identifier: BSD-3-Clause
"""A database shared with worker processes: one memory-mapped copy on disk.

Relational estimators hold their :class:`~tabkit.relational.Database` by
reference and never pickle its tables. Process-based parallelism (joblib's
default ``loky`` backend, as in ``GridSearchCV(..., n_jobs=2)``) pickles
estimators for every task, so they pickle a :class:`DatabaseRef` instead: a
reference to a copy of the database written once to disk per database and
process. A worker loads that copy once, memory-mapped (numbers, dates and
category codes stay in the file and are shared by all the workers through the
page cache; strings and other Python objects are read into the worker), and
keeps it for the tasks that follow.

Where the copies live. In ``$TABKIT_SHARED_DIR`` when it is set, else in
``<tempdir>/tabkit-shared-<user id>`` (created private, mode 0700), as
``tabkit-db-<process id>-<token>.joblib``. A copy is written to a temporary
name and renamed, so a reader never sees a partial file.

Clean-up. The process that wrote a copy removes it when it exits (``atexit``):
workers that still map it keep reading it (POSIX keeps an unlinked file for
its open maps), new processes can no longer find it. Copies left by a process
that died without exiting cleanly are removed by the next process that shares
a database in the same directory, once their writer's process id is no longer
running; copies of running processes are never touched, so concurrent
processes (several searches at once) are safe.

A pickle whose copy is gone (for example one loaded on another day or on
another machine) unpickles without a database: the estimator then asks for
``set_params(database=...)``, as after loading a model file.

The API, for relational estimators:

* :func:`share` writes (once) and returns the reference of a database;
* :meth:`DatabaseRef.resolve` returns the database, or None when the copy is
  gone;
* :func:`pickle_database` / :func:`unpickle_database` do both for an
  estimator's ``__getstate__`` / ``__setstate__``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import tempfile
import threading
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabkit.relational._database import Database

__all__ = ["DatabaseRef", "pickle_database", "share", "unpickle_database"]

logger = logging.getLogger(__name__)

#: Environment variable naming the directory of the shared copies.
DIR_ENV = "TABKIT_SHARED_DIR"
_PREFIX = "tabkit-db-"
_SUFFIX = ".joblib"
_KEEP_LOADED = 4  # copies a worker keeps loaded (most recently used)

_lock = threading.RLock()
_refs: weakref.WeakKeyDictionary[Database, DatabaseRef] = weakref.WeakKeyDictionary()
_live: weakref.WeakValueDictionary[str, Database] = weakref.WeakValueDictionary()
_loaded: OrderedDict[str, Database] = OrderedDict()
_written: dict[Path, int] = {}  # copy -> the process id that wrote it
#: Times each copy was read from disk by this process, by token (diagnostics).
load_counts: dict[str, int] = {}


@dataclass(frozen=True)
class DatabaseRef:
    """A reference to the shared copy of a database: what pickles carry.

    Attributes
    ----------
    token : str
        Identifies the copy (one per database and writing process).
    fingerprint : str
        The database's schema fingerprint (:meth:`Database.fingerprint`).
    path : str
        The copy's file.

    Examples
    --------
    >>> import pickle
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational._shared import share
    >>> db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
    >>> ref = share(db)
    >>> ref.resolve() is db, share(db) == ref
    (True, True)
    >>> pickle.loads(pickle.dumps(ref)).fingerprint == db.fingerprint()
    True
    """

    token: str
    fingerprint: str
    path: str

    def resolve(self) -> Database | None:
        """Return the database: this process's, or the copy loaded (once).

        Returns
        -------
        Database or None
            None when the copy is gone or is not this database.
        """
        with _lock:
            db = _live.get(self.token)
            if db is not None:
                return db
            if not os.path.exists(self.path):
                return None
            import joblib  # noqa: PLC0415 - only processes that load a copy need it

            try:
                db = joblib.load(self.path, mmap_mode="r")
            except (OSError, EOFError, ValueError) as error:
                logger.warning(
                    "cannot read the shared database %s: %s", self.path, error
                )
                return None
            if not isinstance(db, Database) or db.fingerprint() != self.fingerprint:
                return None
            _register(db, self)
            load_counts[self.token] = load_counts.get(self.token, 0) + 1
            _loaded[self.token] = db
            while len(_loaded) > _KEEP_LOADED:
                _loaded.popitem(last=False)
            logger.info("loaded the shared database %s", self.path)
            return db


def share(db: Database) -> DatabaseRef:
    """Return the reference of a database's shared copy, writing it once.

    Parameters
    ----------
    db : Database

    Returns
    -------
    DatabaseRef
        The same reference for the same database object in this process
        (and for a database loaded from a copy, that copy's reference).
    """
    with _lock:
        ref = _refs.get(db)
        if ref is not None and os.path.exists(ref.path):
            return ref
        import joblib  # noqa: PLC0415 - a dependency of scikit-learn

        directory = _directory()
        _remove_stale(directory)
        token = uuid.uuid4().hex
        path = directory / f"{_PREFIX}{os.getpid()}-{token}{_SUFFIX}"
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            joblib.dump(db, partial)
            os.replace(partial, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        if not _written:
            atexit.register(_remove_written)
        _written[path] = os.getpid()
        ref = DatabaseRef(token=token, fingerprint=db.fingerprint(), path=str(path))
        _register(db, ref)
        logger.info("wrote the shared copy %s of %r", path, db)
        return ref


def pickle_database(state: dict[str, Any], key: str = "database") -> dict[str, Any]:
    """Replace the database under ``key`` by its reference, for ``__getstate__``.

    Parameters
    ----------
    state : dict
        An estimator's state (not modified).
    key : str, default="database"

    Returns
    -------
    dict
        The state with ``state[key]`` None and, when there was a database,
        its :class:`DatabaseRef` under ``"_" + key + "_ref"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational._shared import pickle_database, unpickle_database
    >>> db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
    >>> state = pickle_database({"database": db, "alpha": 1.0})
    >>> state["database"], sorted(state)
    (None, ['_database_ref', 'alpha', 'database'])
    >>> unpickle_database(state)["database"] is db
    True
    """
    state = dict(state)
    db = state.get(key)
    state[key] = None
    state.pop(f"_{key}_ref", None)
    if isinstance(db, Database):
        state[f"_{key}_ref"] = share(db)
    return state


def unpickle_database(state: dict[str, Any], key: str = "database") -> dict[str, Any]:
    """Put the referenced database back under ``key``, for ``__setstate__``.

    Parameters
    ----------
    state : dict
        A state written by :func:`pickle_database` (not modified).
    key : str, default="database"

    Returns
    -------
    dict
        The state with the database under ``key`` when its copy was found
        (and no reference); else ``state[key]`` None and the reference kept
        under ``"_" + key + "_ref"``, for error messages.
    """
    state = dict(state)
    ref = state.get(f"_{key}_ref")
    if isinstance(ref, DatabaseRef) and state.get(key) is None:
        db = ref.resolve()
        if db is not None:
            state[key] = db
            del state[f"_{key}_ref"]
    return state


# -------------------------------------------------------------------- helpers
def _register(db: Database, ref: DatabaseRef) -> None:
    _refs[db] = ref
    _live[ref.token] = db


def _directory() -> Path:
    """Return the copies' directory: ``$TABKIT_SHARED_DIR`` or a private one."""
    chosen = os.environ.get(DIR_ENV)
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"tabkit-shared-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.stat()
    if (hasattr(os, "getuid") and info.st_uid != uid) or info.st_mode & 0o077:
        # someone else's or an open directory: use a fresh private one
        path = Path(tempfile.mkdtemp(prefix="tabkit-shared-"))
    return path


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep its copies
    return True


def _remove_stale(directory: Path) -> None:
    """Remove copies whose writing process is no longer running."""
    for path in directory.glob(f"{_PREFIX}*{_SUFFIX}"):
        pid = path.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()
                logger.info("removed the stale shared database %s", path)


def _remove_written() -> None:
    """Remove the copies this process wrote (at exit)."""
    with _lock:
        for path, pid in list(_written.items()):
            if pid == os.getpid():  # not a forked child's inherited list
                with contextlib.suppress(OSError):
                    path.unlink()
            del _written[path]
