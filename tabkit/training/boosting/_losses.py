# SPDX-License-Identifier: BSD-3-Clause
"""Losses of gradient boosting: initial constant, residuals, guarded line search."""

from __future__ import annotations

import math

import torch
from torch import Tensor

_EPS = 1e-12


def _wmean(values: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean over rows of a (n,) or (n, k) tensor (weights sum to n)."""
    if values.ndim == 2:
        values = values.sum(dim=1)
    return (values * weight).sum() / weight.sum()


def _softmax(raw: Tensor) -> Tensor:
    """Row-wise softmax; torch's kernel is several times slower for few columns."""
    e = (raw - raw.amax(dim=1, keepdim=True)).exp_()
    return e / e.sum(dim=1, keepdim=True)


class BoostingLoss:
    """A loss for gradient boosting: initial constant, residuals, line search.

    Targets ``y`` and raw scores ``F`` have shape (n, n_outputs); ``weight`` has
    shape (n,). Subclasses implement :meth:`init`, :meth:`loss`,
    :meth:`negative_gradient` and :meth:`derivatives`; :meth:`line_search`
    minimises ``loss(F + rho * h)`` over the scalar ``rho`` by safeguarded Newton
    iterations with backtracking, so a step can never increase the training loss
    (the reference implementation's unguarded step diverges on multiclass data).
    """

    n_outputs: int = 1
    #: Whether ``negative_gradient`` changes the loss itself (Huber's delta).
    stateful: bool = False

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the constant raw score minimising the loss, shape (n_outputs,)."""
        raise NotImplementedError

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean loss (a scalar tensor)."""
        raise NotImplementedError

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return the pseudo-residuals, shape (n, n_outputs)."""
        raise NotImplementedError

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return phi'(0) and phi''(0) of ``phi(rho) = loss(raw + rho * h)``."""
        raise NotImplementedError

    def line_search(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor, max_iter: int = 8
    ) -> float:
        """Return the step ``rho`` minimising ``loss(raw + rho * h)``.

        Newton iterations on the derivative of the convex one-dimensional
        function, safeguarded by a bracket (a Newton point outside the bracket
        is replaced by bisection), stopped at 1 % precision (the step is then
        shrunk anyway). Only derivatives are evaluated; a direction along which
        the loss does not decrease gives 0. :func:`fit_boosting` additionally
        halves the applied step until the training loss does not increase.

        Parameters
        ----------
        y, raw, h : Tensor of shape (n, n_outputs)
        weight : Tensor of shape (n,)
        max_iter : int, default=8
            Newton iterations.

        Returns
        -------
        rho : float
        """
        grad, hess = self.derivatives(y, raw, h, weight)
        if not math.isfinite(grad) or grad >= -_EPS:
            return 0.0
        lo, hi, rho = 0.0, math.inf, 0.0
        for _ in range(max_iter):
            if math.isfinite(hess) and hess > _EPS:
                new = rho - grad / hess
            else:  # no usable curvature: expand, or bisect inside the bracket
                new = 2.0 * rho + 1.0
            if math.isfinite(hi) and not lo < new < hi:
                new = 0.5 * (lo + hi)
            grad, hess = self.derivatives(y, raw + new * h, h, weight)
            moved = abs(new - rho)
            rho = new
            if not math.isfinite(grad) or grad > 0:
                hi = new
            else:
                lo = new
            if moved <= 1e-2 * abs(rho) or abs(grad) <= _EPS:
                break
        return rho if math.isfinite(grad) else lo


class SquaredError(BoostingLoss):
    """Half squared error ``(y - F)^2 / 2``; the line search is closed-form.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training.boosting import SquaredError
    >>> y = torch.tensor([[1.0], [3.0]])
    >>> SquaredError().init(y, torch.ones(2)).tolist()
    [2.0]
    """

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean."""
        return (y * weight[:, None]).sum(0) / weight.sum()

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean of half squared errors."""
        return 0.5 * _wmean((y - raw) ** 2, weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return the residuals ``y - F``."""
        return y - raw

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives."""
        return float(-_wmean((y - raw) * h, weight)), float(_wmean(h * h, weight))

    def line_search(
        self,
        y: Tensor,
        raw: Tensor,
        h: Tensor,
        weight: Tensor,
        max_iter: int = 8,  # noqa: ARG002 - closed form
    ) -> float:
        """Return the least-squares step ``sum(w r h) / sum(w h^2)``."""
        grad, hess = self.derivatives(y, raw, h, weight)
        if not (math.isfinite(grad) and math.isfinite(hess)) or hess <= _EPS:
            return 0.0
        return -grad / hess


class Huber(SquaredError):
    """Huber loss with the transition ``delta`` at a quantile of ``|y - F|``.

    As in Friedman's M-regression, ``delta`` is re-estimated at every step as the
    ``quantile``-quantile of the absolute residuals (weighted), the
    pseudo-residuals are the residuals clipped to ``[-delta, delta]``, and the
    line search is the safeguarded Newton search of :class:`BoostingLoss` on the
    Huber loss with that ``delta`` (curvature from the rows in the quadratic
    zone), which converges in a few iterations because the loss is piecewise
    quadratic.

    The initial constant is the Huber M-estimate of location: the weighted
    median refined by the same line search, with ``delta`` from the residuals
    at the median.

    Parameters
    ----------
    quantile : float, default=0.9
        Quantile of the absolute residuals used as ``delta``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training.boosting import Huber
    >>> y = torch.tensor([[0.0], [1.0], [2.0], [100.0]])
    >>> round(Huber(0.5).init(y, torch.ones(4)).item(), 3)  # not pulled to 100
    1.5
    """

    stateful = True

    def __init__(self, quantile: float = 0.9) -> None:
        self.quantile = quantile
        self.delta = 1.0

    @staticmethod
    def _weighted_quantile(values: Tensor, weight: Tensor, q: float) -> Tensor:
        order = torch.argsort(values)
        cum = torch.cumsum(weight[order], 0)
        idx = torch.searchsorted(cum, q * cum[-1]).clamp(max=values.numel() - 1)
        return values[order][idx]

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the constant minimising the Huber loss (from the median)."""
        median = self._weighted_quantile(y[:, 0], weight, 0.5)
        raw = median.expand(y.shape[0], 1)
        self.negative_gradient(y, raw)  # delta from the residuals at the median
        rho = self.line_search(y, raw, torch.ones_like(raw), weight)
        return (median + rho).reshape(1)

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean Huber loss at the current ``delta``."""
        r = (y - raw).abs()
        d = self.delta
        return _wmean(torch.where(r <= d, 0.5 * r * r, d * (r - 0.5 * d)), weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Update ``delta`` and return the clipped residuals."""
        r = y - raw
        q = self._weighted_quantile(
            r.abs()[:, 0], torch.ones_like(r[:, 0]), self.quantile
        )
        self.delta = max(float(q), 1e-8)
        return r.clamp(-self.delta, self.delta)

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives at the current ``delta``."""
        r = y - raw
        inside = (r.abs() <= self.delta).to(h.dtype)
        grad = -_wmean(r.clamp(-self.delta, self.delta) * h, weight)
        return float(grad), float(_wmean(inside * h * h, weight))

    def line_search(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor, max_iter: int = 8
    ) -> float:
        """Return the Huber step (safeguarded Newton with backtracking)."""
        return BoostingLoss.line_search(self, y, raw, h, weight, max_iter)


class BinomialDeviance(BoostingLoss):
    """Binary log loss on log-odds ``F``; targets in {0, 1}.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training.boosting import BinomialDeviance
    >>> y = torch.tensor([[1.0], [1.0], [1.0], [0.0]])
    >>> round(BinomialDeviance().init(y, torch.ones(4)).item(), 4)  # log(3)
    1.0986
    """

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the log-odds of the weighted positive rate."""
        p = ((y[:, 0] * weight).sum() / weight.sum()).clamp(1e-7, 1 - 1e-7)
        return torch.log(p / (1 - p)).reshape(1)

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean log loss (overflow-safe)."""
        return _wmean(torch.nn.functional.softplus(raw) - y * raw, weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return ``y - sigmoid(F)``."""
        return y - torch.sigmoid(raw)

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives."""
        p = torch.sigmoid(raw)
        grad = -_wmean((y - p) * h, weight)
        return float(grad), float(_wmean(p * (1 - p) * h * h, weight))


class MultinomialDeviance(BoostingLoss):
    """Multiclass log loss on K raw scores; targets one-hot.

    The initial scores are the centred log class priors (the constant that
    minimises the loss); the line search uses the exact second derivative of
    the loss along the step direction, not a diagonal approximation.

    Parameters
    ----------
    n_classes : int
        Number of classes K.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training.boosting import MultinomialDeviance
    >>> y = torch.eye(3)[[0, 0, 1, 2]]
    >>> init = MultinomialDeviance(3).init(y, torch.ones(4))
    >>> [round(v, 3) for v in torch.softmax(init, 0).tolist()]
    [0.5, 0.25, 0.25]
    """

    def __init__(self, n_classes: int) -> None:
        self.n_outputs = n_classes

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the centred log priors."""
        prior = ((y * weight[:, None]).sum(0) / weight.sum()).clamp_min(1e-7)
        logp = torch.log(prior)
        return logp - logp.mean()

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean cross-entropy."""
        per_row = torch.logsumexp(raw, dim=1) - (y * raw).sum(dim=1)
        return _wmean(per_row, weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return ``Y - softmax(F)``."""
        return y - _softmax(raw)

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives (exact Hessian along ``h``)."""
        p = _softmax(raw)
        grad = -_wmean((y - p) * h, weight)
        ph = (p * h).sum(dim=1)
        hess = _wmean((p * h * h).sum(dim=1) - ph * ph, weight)
        return float(grad), float(hess)
