# SPDX-License-Identifier: BSD-3-Clause
"""Per-iteration training records."""

from __future__ import annotations

import json
from typing import Any, overload


class History(list[dict[str, Any]]):
    """Per-iteration training records: a list of JSON-serialisable dicts.

    Each entry describes one iteration of the outer training loop (an epoch of
    :func:`~tabkit.training.fit_module`, or one step of a boosting procedure) and
    holds at least ``"iteration"`` plus the metrics measured then, for example
    ``"train_loss"``, ``"val_loss"`` or ``"seconds"``.

    Besides list indexing, a metric column is read with a tuple index, as in
    skorch: ``history[:, "val_loss"]`` gives a list over iterations, with
    ``None`` where the metric was not measured (evaluation every *k* epochs).

    Attributes
    ----------
    best_iteration : int or None
        Iteration whose weights were kept (early stopping), ``None`` when the
        last iteration's weights were kept.
    stop_reason : str
        Why training ended: ``"max_iter"``, ``"early_stopping"``,
        ``"time_budget"``, ``"callback"`` or ``"not_started"``.

    Examples
    --------
    >>> from tabkit.training import History
    >>> h = History([{"iteration": 1, "val_loss": 0.5}, {"iteration": 2}])
    >>> h[:, "val_loss"]
    [0.5, None]
    >>> h.last("val_loss")
    0.5
    >>> History.from_json(h.to_json())[:, "iteration"]
    [1, 2]
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        super().__init__(records or [])
        self.best_iteration: int | None = None
        self.stop_reason: str = "not_started"
        self.optimizer_state: dict[str, Any] | None = None

    @overload  # type: ignore[override]
    def __getitem__(self, key: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, key: slice) -> list[dict[str, Any]]: ...

    @overload
    def __getitem__(self, key: tuple[slice | int, str]) -> Any: ...

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            rows, name = key
            selected = super().__getitem__(rows)
            if isinstance(selected, dict):
                return selected.get(name)
            return [record.get(name) for record in selected]
        return super().__getitem__(key)

    def last(self, name: str) -> Any:
        """Return the most recent value recorded for ``name`` (None if never).

        Parameters
        ----------
        name : str
            Metric name.

        Returns
        -------
        value : object or None
            The value from the latest iteration that recorded ``name``.

        Examples
        --------
        >>> from tabkit.training import History
        >>> History([{"loss": 1.0}, {"loss": 0.5}]).last("loss")
        0.5
        """
        for record in reversed(self):
            if name in record:
                return record[name]
        return None

    def to_json(self) -> str:
        """Serialise the records and the stop information to a JSON string.

        Returns
        -------
        text : str
            JSON document with keys ``"records"``, ``"best_iteration"`` and
            ``"stop_reason"``.

        Examples
        --------
        >>> from tabkit.training import History
        >>> import json
        >>> json.loads(History([{"iteration": 1}]).to_json())["records"]
        [{'iteration': 1}]
        """
        return json.dumps(
            {
                "records": list(self),
                "best_iteration": self.best_iteration,
                "stop_reason": self.stop_reason,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> History:
        """Rebuild a history written by :meth:`to_json`.

        Parameters
        ----------
        text : str
            The JSON document.

        Returns
        -------
        history : History
            The restored history.

        Examples
        --------
        >>> from tabkit.training import History
        >>> History.from_json('{"records": [{"iteration": 3}]}').last("iteration")
        3
        """
        data = json.loads(text)
        history = cls(list(data.get("records", [])))
        history.best_iteration = data.get("best_iteration")
        history.stop_reason = data.get("stop_reason", "not_started")
        return history

    def __reduce__(self) -> tuple[Any, ...]:
        return (History.from_json, (self.to_json(),))
