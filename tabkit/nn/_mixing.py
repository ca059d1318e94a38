# SPDX-License-Identifier: BSD-3-Clause
"""ExcelFormer's Feat-Mix and Hid-Mix, and the matching loss and target mixing.

Both augmentations act on an embedded batch ``z`` of shape ``(batch_size,
n_features, d_token)`` (:meth:`tabkit.nn.ExcelFormer.embed`), training only.
Every random draw comes from the ``torch.Generator`` passed in, never from the
global RNG, so a seeded generator makes them reproducible. Draws happen on the
generator's device and the results are moved to ``z``'s device.

Per batch, in this order: one shuffle rate ``r_b ~ Beta(beta, beta)`` per
sample (:func:`sample_beta`), one permutation ``perm`` of the batch, then one
uniform draw per feature token (Feat-Mix) or per embedding channel (Hid-Mix).
The partner of sample ``b`` is ``perm[b]``, which may be ``b`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "feat_mix",
    "hidden_mix",
    "mixed_loss",
    "mixed_targets",
    "normalize_feature_weights",
    "sample_beta",
]


def _check_beta(beta: float) -> None:
    if isinstance(beta, bool) or not (0 < beta < math.inf):
        raise ValueError(f"beta must be a positive finite number, got {beta=}")


def _log_gamma_variates(alpha: float, n: int, generator: torch.Generator) -> Tensor:
    """Logarithms of ``n`` standard Gamma(alpha) draws (float64, generator device).

    Marsaglia and Tsang's (2000) rejection method from normal and uniform draws,
    vectorised: rejected entries are redrawn until all are accepted (about 4 %
    are rejected per round for alpha >= 1). For ``alpha < 1`` it draws
    ``Gamma(alpha + 1)`` and multiplies by ``U ** (1 / alpha)``, in log space so
    that tiny ``alpha`` cannot underflow to zero.
    """
    device = generator.device
    shape = alpha if alpha >= 1 else alpha + 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n, dtype=torch.float64, device=device)
    todo = torch.arange(n, device=device)
    while todo.numel():
        m = todo.numel()
        x = torch.randn(m, generator=generator, dtype=torch.float64, device=device)
        u = torch.rand(m, generator=generator, dtype=torch.float64, device=device)
        v = (1.0 + c * x) ** 3
        log_v = torch.log(v.clamp_min(1e-300))
        ok = (v > 0) & (torch.log1p(-u) < 0.5 * x * x + d - d * v + d * log_v)
        out[todo[ok]] = math.log(d) + log_v[ok]
        todo = todo[~ok]
    if alpha < 1:
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=device)
        out += torch.log1p(-u) / alpha  # log(U) with U in (0, 1]
    return out


def sample_beta(
    beta: float,
    n: int,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Draw ``n`` samples of the symmetric Beta(beta, beta) from ``generator``.

    ``torch.distributions.Beta`` cannot take a generator, so the draw is made
    here as ``G1 / (G1 + G2)`` with two independent Gamma(beta) variates (see
    :func:`_log_gamma_variates`), computed as ``sigmoid(log G1 - log G2)`` in
    float64: tiny ``beta`` gives values at (or next to) exactly 0 and 1, never
    NaN.

    Parameters
    ----------
    beta : float
        Concentration (> 0). Below 1 the draws pile up near 0 and 1; above 1
        they concentrate around 0.5.
    n : int
        Number of draws.
    generator : torch.Generator
        Source of randomness; the draws are on its device.
    dtype : torch.dtype, default=torch.float32
        Dtype of the result.

    Returns
    -------
    r : Tensor of shape (n,)
        Values in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import sample_beta
    >>> r = sample_beta(0.5, 10_000, torch.Generator().manual_seed(0))
    >>> r.shape, abs(r.mean().item() - 0.5) < 0.02, abs(r.var().item() - 0.125) < 0.01
    (torch.Size([10000]), True, True)
    """
    _check_beta(beta)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n=}")
    log_ratio = _log_gamma_variates(beta, n, generator) - _log_gamma_variates(
        beta, n, generator
    )
    return torch.sigmoid(log_ratio).to(dtype)


def normalize_feature_weights(scores: Tensor) -> Tensor:
    """Normalise non-negative feature scores (mutual information) to sum 1.

    When every score is zero (no feature carries information, or MI could not
    be estimated) the weights are uniform instead of the reference's division
    by zero.

    Parameters
    ----------
    scores : Tensor of shape (n_features,)
        Non-negative, finite scores, in the model's column order.

    Returns
    -------
    weights : Tensor of shape (n_features,)
        Non-negative, summing to 1.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import normalize_feature_weights
    >>> normalize_feature_weights(torch.tensor([3.0, 1.0, 0.0])).tolist()
    [0.75, 0.25, 0.0]
    >>> normalize_feature_weights(torch.zeros(4)).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    if scores.ndim != 1 or scores.numel() == 0:
        raise ValueError(
            f"scores must be a non-empty 1-D tensor, got shape {tuple(scores.shape)}"
        )
    if not bool(torch.isfinite(scores).all()) or bool((scores < 0).any()):
        raise ValueError("scores must be finite and non-negative")
    total = scores.sum()
    if float(total) <= 0:
        return torch.full_like(scores, 1.0 / scores.numel())
    return scores / total


def _check_embedded(z: Tensor) -> tuple[int, int, int]:
    if z.ndim != 3:
        raise ValueError(
            "z must be an embedded batch of shape (batch_size, n_features, "
            f"d_token), got shape {tuple(z.shape)}"
        )
    b, f, d = z.shape
    return int(b), int(f), int(d)


def feat_mix(
    z: Tensor, feature_weights: Tensor, beta: float, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Feat-Mix: swap whole feature tokens with a partner sample.

    For sample ``b`` with shuffle rate :math:`r_b \sim \mathrm{Beta}(\beta,
    \beta)`, token ``j`` is kept when :math:`U_{bj} > r_b` (probability
    :math:`1 - r_b`) and otherwise taken from sample ``perm[b]``. The label
    weight is the normalised importance of the kept tokens,
    :math:`\lambda_b = \sum_j \mathrm{keep}_{bj} w_j`: swapping an
    uninformative feature barely changes the label. Because the embedding is
    per feature, swapping tokens is swapping raw features.

    Parameters
    ----------
    z : Tensor of shape (batch_size, n_features, d_token)
        Embedded batch.
    feature_weights : Tensor of shape (n_features,)
        Non-negative feature importances in the model's column order (mutual
        information); normalised here by :func:`normalize_feature_weights`, so
        all zeros means uniform weights.
    beta : float
        Beta concentration (the reference default is 0.5).
    generator : torch.Generator
        Source of every random draw.

    Returns
    -------
    z_mixed : Tensor of shape (batch_size, n_features, d_token)
    lam : Tensor of shape (batch_size,)
        Weight of each sample's own label; ``1 - lam`` goes to ``perm``'s.
    perm : Tensor of shape (batch_size,)
        Partner of each sample (on ``z``'s device).

    See Also
    --------
    mixed_loss, mixed_targets : Use ``lam`` and ``perm`` in the loss.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import feat_mix
    >>> g = torch.Generator().manual_seed(0)
    >>> z = torch.randn(8, 3, 4)
    >>> z_mixed, lam, perm = feat_mix(z, torch.tensor([0.5, 0.3, 0.0]), 0.5, g)
    >>> z_mixed.shape, lam.shape, perm.shape
    (torch.Size([8, 3, 4]), torch.Size([8]), torch.Size([8]))
    >>> bool(((lam >= 0) & (lam <= 1)).all())
    True
    """
    b, f, _ = _check_embedded(z)
    if feature_weights.shape != (f,):
        raise ValueError(
            f"feature_weights must have shape ({f},) to match z, "
            f"got {tuple(feature_weights.shape)}"
        )
    weights = normalize_feature_weights(feature_weights).to(z.dtype).to(z.device)
    rate = sample_beta(beta, b, generator)
    perm = torch.randperm(b, generator=generator, device=generator.device)
    u = torch.rand(b, f, generator=generator, device=generator.device)
    keep = (u > rate[:, None]).to(z.device)
    perm = perm.to(z.device)
    # One gather of whole tokens: token (b, j) comes from row b or perm[b].
    rows = torch.where(keep, torch.arange(b, device=z.device)[:, None], perm[:, None])
    source = rows * f + torch.arange(f, device=z.device)
    z_mixed = z.reshape(b * f, -1).index_select(0, source.view(-1)).view(z.shape)
    lam = keep.to(z.dtype) @ weights
    return z_mixed, lam, perm


def hidden_mix(
    z: Tensor, beta: float, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Hid-Mix: swap whole embedding channels with a partner sample.

    For sample ``b`` with shuffle rate :math:`r_b \sim \mathrm{Beta}(\beta,
    \beta)`, channel ``c`` of every token is kept when :math:`U_{bc} < r_b`
    (the same channels for all features) and otherwise taken from sample
    ``perm[b]``. As in the reference code the label weight is the rate itself,
    :math:`\lambda_b = r_b` (the expected kept fraction; the realised fraction
    differs by about :math:`\sqrt{r_b (1 - r_b) / d}`).

    Parameters
    ----------
    z : Tensor of shape (batch_size, n_features, d_token)
        Embedded batch.
    beta : float
        Beta concentration (the reference default is 0.5).
    generator : torch.Generator
        Source of every random draw.

    Returns
    -------
    z_mixed : Tensor of shape (batch_size, n_features, d_token)
    lam : Tensor of shape (batch_size,)
        Weight of each sample's own label (``r_b``).
    perm : Tensor of shape (batch_size,)
        Partner of each sample (on ``z``'s device).

    See Also
    --------
    mixed_loss, mixed_targets : Use ``lam`` and ``perm`` in the loss.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import hidden_mix, sample_beta
    >>> z = torch.randn(8, 3, 4)
    >>> z_mixed, lam, perm = hidden_mix(z, 0.5, torch.Generator().manual_seed(0))
    >>> torch.equal(lam, sample_beta(0.5, 8, torch.Generator().manual_seed(0)))
    True
    """
    b, _, d = _check_embedded(z)
    rate = sample_beta(beta, b, generator)
    perm = torch.randperm(b, generator=generator, device=generator.device)
    u = torch.rand(b, d, generator=generator, device=generator.device)
    keep = (u < rate[:, None]).to(z.device)
    perm = perm.to(z.device)
    z_mixed = torch.where(keep[:, None, :], z, z.index_select(0, perm))
    return z_mixed, rate.to(z.dtype).to(z.device), perm


def _per_sample(loss: Tensor, n: int) -> Tensor:
    if loss.ndim == 0 or loss.shape[0] != n:
        raise ValueError(
            "loss_fn must return one loss per sample (reduction='none'), got "
            f"shape {tuple(loss.shape)} for {n} samples"
        )
    return loss.reshape(n, -1).mean(1)


def mixed_loss(
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    pred: Tensor,
    y: Tensor,
    lam: Tensor,
    perm: Tensor,
    *,
    sample_weight: Tensor | None = None,
) -> Tensor:
    r"""Mixed loss of a mixed batch: each sample's loss against both labels.

    .. math::

        L = \frac{\sum_b \lambda_b w_b \ell(p_b, y_b)
                  + (1 - \lambda_b) w_{\pi(b)} \ell(p_b, y_{\pi(b)})}
                 {\sum_b \lambda_b w_b + (1 - \lambda_b) w_{\pi(b)}}

    with ``pi = perm`` and ``w`` the sample weights (all 1 by default, when
    the denominator is the batch size and this is the reference's
    ``mean(lam * l(y) + (1 - lam) * l(y[perm]))``). Each label's term carries
    its own sample's weight. For cross-entropy and binary cross-entropy (with
    logits) this equals the loss against the soft target
    ``lam * y + (1 - lam) * y[perm]``, since both are linear in the target.
    For the squared error it has the same gradient as the reference's
    regression loss against the mixed target (:func:`mixed_targets`); only
    the value differs, by a constant.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(pred, target) -> per-sample losses`` of shape
        ``(batch_size,)`` or ``(batch_size, ...)`` (averaged over the trailing
        axes), for example ``partial(F.cross_entropy, reduction="none")``.
    pred : Tensor of shape (batch_size, ...)
        Predictions for the mixed batch.
    y : Tensor of shape (batch_size, ...)
        Targets of the batch (before mixing).
    lam : Tensor of shape (batch_size,)
        Label weights from :func:`feat_mix` or :func:`hidden_mix`.
    perm : Tensor of shape (batch_size,)
        Partners from the same call.
    sample_weight : Tensor of shape (batch_size,), optional
        Non-negative sample weights.

    Returns
    -------
    loss : Tensor
        Scalar. Zero (not NaN) when every weight in the batch is zero.

    Examples
    --------
    >>> import torch
    >>> import torch.nn.functional as F
    >>> from functools import partial
    >>> from tabkit.nn import mixed_loss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> y, perm = torch.tensor([0, 1]), torch.tensor([1, 0])
    >>> lam = torch.tensor([0.75, 1.0])
    >>> ce = partial(F.cross_entropy, reduction="none")
    >>> loss = mixed_loss(ce, logits, y, lam, perm)
    >>> soft = torch.tensor([[0.75, 0.25], [0.0, 1.0]])  # lam * y + (1 - lam) * y[perm]
    >>> torch.allclose(loss, F.cross_entropy(logits, soft))
    True
    """
    n = pred.shape[0]
    own = _per_sample(loss_fn(pred, y), n)
    other = _per_sample(loss_fn(pred, y[perm]), n)
    lam = lam.to(own.dtype)
    if sample_weight is None:
        return (lam * own + (1 - lam) * other).mean()
    w_own = lam * sample_weight.to(own.dtype)
    w_other = (1 - lam) * sample_weight.to(own.dtype)[perm]
    total = (w_own + w_other).sum()
    return (w_own * own + w_other * other).sum() / total.clamp_min(
        torch.finfo(own.dtype).tiny
    )


def mixed_targets(
    y: Tensor,
    lam: Tensor,
    perm: Tensor,
    *,
    sample_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""Mixed regression targets (and weights): the reference's regression mixing.

    Without weights, ``y_mixed = lam * y + (1 - lam) * y[perm]``, used with the
    plain squared error. With weights ``w``, each mixed sample gets weight
    :math:`\lambda_b w_b + (1 - \lambda_b) w_{\pi(b)}` and the target
    averaged with those two weights, so that the weighted squared error against
    ``y_mixed`` has the same gradient as :func:`mixed_loss` with the squared
    error.

    Parameters
    ----------
    y : Tensor of shape (batch_size,) or (batch_size, n_outputs)
        Float targets.
    lam : Tensor of shape (batch_size,)
        Label weights from :func:`feat_mix` or :func:`hidden_mix`.
    perm : Tensor of shape (batch_size,)
        Partners from the same call.
    sample_weight : Tensor of shape (batch_size,), optional
        Non-negative sample weights.

    Returns
    -------
    y_mixed : Tensor of the shape of ``y``
    weight : Tensor of shape (batch_size,) or None
        Weights of the mixed samples (``None`` without ``sample_weight``).

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import mixed_targets
    >>> y = torch.tensor([0.0, 10.0])
    >>> y_mixed, w = mixed_targets(y, torch.tensor([0.75, 1.0]), torch.tensor([1, 0]))
    >>> y_mixed.tolist(), w
    ([2.5, 10.0], None)
    """
    shape = (-1,) + (1,) * (y.ndim - 1)
    lam = lam.to(y.dtype)
    if sample_weight is None:
        lam_y = lam.view(shape)
        return lam_y * y + (1 - lam_y) * y[perm], None
    w_own = lam * sample_weight.to(y.dtype)
    w_other = (1 - lam) * sample_weight.to(y.dtype)[perm]
    weight = w_own + w_other
    denom = weight.clamp_min(torch.finfo(y.dtype).tiny).view(shape)
    y_mixed = (w_own.view(shape) * y + w_other.view(shape) * y[perm]) / denom
    return y_mixed, weight
