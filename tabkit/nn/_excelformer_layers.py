# SPDX-License-Identifier: BSD-3-Clause
"""Layers of ExcelFormer: gated embedding, semi-permeable attention, gated FFN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tabkit.nn._attention import causal_attention, split_heads
from tabkit.nn._gates import gated_embedding, tanh_glu

# ================================================================= validation


def _check_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


# ============================================================ initialisation


def attenuated_uniform_(tensor: Tensor, scale: float = 1.0) -> Tensor:
    r"""Fill ``tensor`` in place from :math:`U(-s/\sqrt{n}, s/\sqrt{n})`.

    ``n`` is the fan-in (the size of the last dimension) and ``s`` the scale.
    With ``scale=1`` this is PyTorch's default ``nn.Linear`` initialisation
    (Kaiming uniform with ``a=sqrt(5)``); ExcelFormer's interaction-attenuated
    initialisation uses a small scale (0.01) for the attention projections and
    the feed-forward, so that the network starts close to "no interaction".

    Parameters
    ----------
    tensor : Tensor
        Tensor to fill, fan-in last (a ``(out, in)`` weight, or a per-feature
        ``(n_features, d_token)`` table).
    scale : float, default=1.0
        Multiplier of the bound.

    Returns
    -------
    tensor : Tensor
        The same tensor.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.excelformer import attenuated_uniform_
    >>> w = attenuated_uniform_(torch.empty(64, 100), scale=0.01)
    >>> bool(w.abs().max() <= 0.001)
    True
    """
    bound = scale / math.sqrt(max(tensor.shape[-1], 1))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


# ==================================================================== layers


class GatedFeatureEmbedding(nn.Module):
    r"""Per-feature gated embedding: one token per scalar feature.

    For feature ``j`` with value :math:`x_j`,

    .. math::

        z_j = (W_1[j] x_j + b_1[j]) \odot \tanh(W_2[j] x_j + b_2[j]).

    All four tables are initialised from :math:`U(-1/\sqrt{d}, 1/\sqrt{d})`, as
    in the reference code. None of them is weight-decayed (see
    ``no_weight_decay``, read by :func:`tabkit.training.make_parameter_groups`).

    Parameters
    ----------
    n_features : int
        Number of input features ``f``.
    d_token : int
        Token width ``d``.

    Attributes
    ----------
    weight1, bias1, weight2, bias2 : Parameter of shape (n_features, d_token)

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.excelformer import GatedFeatureEmbedding
    >>> GatedFeatureEmbedding(3, 8)(torch.randn(5, 3)).shape
    torch.Size([5, 3, 8])
    """

    no_weight_decay = frozenset({"weight1", "bias1", "weight2", "bias2"})

    def __init__(self, n_features: int, d_token: int) -> None:
        super().__init__()
        self.weight1 = nn.Parameter(torch.empty(n_features, d_token))
        self.bias1 = nn.Parameter(torch.empty(n_features, d_token))
        self.weight2 = nn.Parameter(torch.empty(n_features, d_token))
        self.bias2 = nn.Parameter(torch.empty(n_features, d_token))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw every table from the reference initialisation."""
        for param in (self.weight1, self.bias1, self.weight2, self.bias2):
            attenuated_uniform_(param, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        """Embed every feature.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features)

        Returns
        -------
        z : Tensor of shape (batch_size, n_features, d_token)
        """
        return gated_embedding(x, self.weight1, self.bias1, self.weight2, self.bias2)


class SemiPermeableAttention(nn.Module):
    r"""Multi-head self-attention with a causal mask over the feature order.

    Token ``i`` attends to tokens ``j <= i`` only. With features sorted by
    decreasing mutual information this is ExcelFormer's semi-permeable
    attention; the softmax probabilities get dropout (training only), as in
    the reference code. The forward pass runs
    :func:`torch.nn.functional.scaled_dot_product_attention` with
    ``is_causal=True`` (a fused kernel), except for CPU training with dropout:
    PyTorch's fused CPU kernel has no dropout and its fallback is slow, so a
    hand-written kernel with the same result computes it (each head's scores
    stay in cache; two ``(batch, heads, f, f)`` tensors are kept for the
    backward pass). Dropout draws from the global torch RNG in both cases.
    :meth:`probabilities` computes the attention explicitly.

    The query, key and value projections are one fused ``Linear(d, 3d)``; each
    of the three ``(d, d)`` blocks is initialised from
    :math:`U(\pm s/\sqrt{d})` with ``s = init_scale`` (the bound depends only
    on the fan-in, so this is the reference's per-matrix initialisation), with
    zero biases. As in the reference code, the output projection exists only
    when ``n_heads > 1`` and is initialised at scale 1 with a zero bias.

    Parameters
    ----------
    d_token : int
        Token width ``d``.
    n_heads : int
        Attention heads; must divide ``d_token``.
    dropout : float, default=0.0
        Dropout on the attention probabilities (training only).
    init_scale : float, default=0.01
        Scale of the query, key and value initialisation.

    Attributes
    ----------
    qkv : torch.nn.Linear
        Fused projection, output ``[q | k | v]``.
    out : torch.nn.Linear or None
        Output projection (``None`` for one head).

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.excelformer import SemiPermeableAttention
    >>> att = SemiPermeableAttention(8, 2)
    >>> att(torch.randn(5, 3, 8)).shape
    torch.Size([5, 3, 8])
    >>> att.probabilities(torch.randn(5, 3, 8))[0, 0].triu(1).abs().sum().item()
    0.0
    """

    def __init__(
        self,
        d_token: int,
        n_heads: int,
        *,
        dropout: float = 0.0,
        init_scale: float = 0.01,
    ) -> None:
        super().__init__()
        if d_token % n_heads:
            raise ValueError(
                f"d_token must be divisible by n_heads, got {d_token=}, {n_heads=}"
            )
        _check_rate("dropout", dropout)
        self.n_heads = n_heads
        self.dropout = dropout
        self.init_scale = init_scale
        self.qkv = nn.Linear(d_token, 3 * d_token)
        self.out = nn.Linear(d_token, d_token) if n_heads > 1 else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Interaction-attenuated initialisation (see the class docstring)."""
        attenuated_uniform_(self.qkv.weight, self.init_scale)
        nn.init.zeros_(self.qkv.bias)
        if self.out is not None:
            attenuated_uniform_(self.out.weight, 1.0)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Attend causally over the feature axis.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features, d_token)

        Returns
        -------
        out : Tensor of shape (batch_size, n_features, d_token)
        """
        p = self.dropout if self.training else 0.0
        out = causal_attention(self.qkv(x), self.n_heads, p)
        return out if self.out is None else self.out(out)

    def probabilities(self, x: Tensor) -> Tensor:
        """Return the attention probabilities (no dropout), computed explicitly.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features, d_token)

        Returns
        -------
        probs : Tensor of shape (batch_size, n_heads, n_features, n_features)
            ``probs[b, h, i, j]`` is how much token ``i`` reads token ``j``;
            rows sum to 1 and entries above the diagonal are 0.
        """
        q, k, _ = split_heads(self.qkv(x), self.n_heads)
        f = x.shape[1]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        above = torch.ones(f, f, dtype=torch.bool, device=x.device).triu_(1)
        return scores.masked_fill(above, -math.inf).softmax(-1)

    def extra_repr(self) -> str:
        """Describe heads and dropout."""
        return f"n_heads={self.n_heads}, dropout={self.dropout}"


class AttentiveFeedForward(nn.Module):
    r"""Gated feed-forward: ``a * tanh(b)`` with ``[a | b] = Linear(d, 2d)(x)``.

    There is no second projection: the output width is ``d``. The weight is
    initialised at ``init_scale`` and the bias at zero (the reference's
    interaction-attenuated initialisation). The reference code stores an
    ``ffn_dropout`` but never applies it, so there is none here.

    Parameters
    ----------
    d_token : int
        Token width ``d``.
    init_scale : float, default=0.01
        Scale of the weight initialisation.

    Attributes
    ----------
    linear : torch.nn.Linear
        The ``d -> 2d`` projection.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.excelformer import AttentiveFeedForward
    >>> AttentiveFeedForward(8)(torch.randn(5, 3, 8)).shape
    torch.Size([5, 3, 8])
    """

    def __init__(self, d_token: int, *, init_scale: float = 0.01) -> None:
        super().__init__()
        self.init_scale = init_scale
        self.linear = nn.Linear(d_token, 2 * d_token)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Interaction-attenuated initialisation."""
        attenuated_uniform_(self.linear.weight, self.init_scale)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the gated projection.

        Parameters
        ----------
        x : Tensor of shape (..., d_token)

        Returns
        -------
        out : Tensor of shape (..., d_token)
        """
        return tanh_glu(self.linear(x))


class ExcelFormerBlock(nn.Module):
    r"""One block: semi-permeable attention then the attentive feed-forward.

    Pre-norm (the default), as the reference code:

    .. code-block:: text

        x = x + dropout(attention(norm0(x)))     # norm0 is the identity in block 0
        x = x + dropout(feed_forward(norm1(x)))

    The residual stream itself is never normalised. Post-norm
    (``prenorm=False``): ``x = norm0(x + dropout(attention(x)))`` then
    ``x = norm1(x + dropout(feed_forward(x)))``, with ``norm0`` in every block.

    Parameters
    ----------
    d_token : int
        Token width.
    n_heads : int
        Attention heads.
    attention_dropout : float, default=0.0
        Dropout on the attention probabilities.
    residual_dropout : float, default=0.0
        Dropout on each branch before it is added to the residual stream.
    init_scale : float, default=0.01
        Scale of the attenuated initialisation.
    prenorm : bool, default=True
        Pre-norm (reference default) or post-norm.
    first : bool, default=False
        Whether this is the first block (no ``norm0`` with pre-norm).

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.excelformer import ExcelFormerBlock
    >>> ExcelFormerBlock(8, 2, first=True)(torch.randn(5, 3, 8)).shape
    torch.Size([5, 3, 8])
    """

    def __init__(
        self,
        d_token: int,
        n_heads: int,
        *,
        attention_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        init_scale: float = 0.01,
        prenorm: bool = True,
        first: bool = False,
    ) -> None:
        super().__init__()
        self.prenorm = prenorm
        self.residual_dropout = residual_dropout
        self.attention = SemiPermeableAttention(
            d_token, n_heads, dropout=attention_dropout, init_scale=init_scale
        )
        self.feed_forward = AttentiveFeedForward(d_token, init_scale=init_scale)
        self.norm0: nn.Module = (
            nn.Identity() if prenorm and first else nn.LayerNorm(d_token)
        )
        self.norm1 = nn.LayerNorm(d_token)

    def reset_parameters(self) -> None:
        """Re-initialise the attention, the feed-forward and the norms."""
        self.attention.reset_parameters()
        self.feed_forward.reset_parameters()
        if isinstance(self.norm0, nn.LayerNorm):
            self.norm0.reset_parameters()
        self.norm1.reset_parameters()

    def _branch(self, x: Tensor) -> Tensor:
        if self.residual_dropout and self.training:
            return F.dropout(x, self.residual_dropout, training=True)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Update every token.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features, d_token)

        Returns
        -------
        out : Tensor of shape (batch_size, n_features, d_token)
            Token ``i`` depends only on input tokens ``0..i``.
        """
        if self.prenorm:
            x = x + self._branch(self.attention(self.norm0(x)))
            return x + self._branch(self.feed_forward(self.norm1(x)))
        x = self.norm0(x + self._branch(self.attention(x)))
        out: Tensor = self.norm1(x + self._branch(self.feed_forward(x)))
        return out

    def attention_probabilities(self, x: Tensor) -> Tensor:
        """Return the attention probabilities this block computes for ``x``.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features, d_token)
            The block's input.

        Returns
        -------
        probs : Tensor of shape (batch_size, n_heads, n_features, n_features)
        """
        return self.attention.probabilities(self.norm0(x) if self.prenorm else x)
