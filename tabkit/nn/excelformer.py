# SPDX-License-Identifier: BSD-3-Clause
"""ExcelFormer: semi-permeable attention over features sorted by information.

The network of Chen et al., "ExcelFormer: Can a DNN be a Sure Bet for Tabular
Prediction?" (KDD 2024, arXiv:2301.02819), following the authors' code:

1. a gated per-feature embedding turns each scalar feature into a token;
2. ``n_blocks`` pre-norm blocks of semi-permeable attention (a causal mask
   over the features sorted by decreasing mutual information with the target)
   and a gated attentive feed-forward;
3. a head that pools over the feature axis with a learned linear map.

The module expects its input columns *already sorted* by decreasing mutual
information: column 0 is the most informative feature. Token ``i`` then reads
only tokens ``j <= i``, so a less informative feature can use more informative
ones but never the other way round. Sorting and the mixing augmentations of
:mod:`tabkit.nn` (:func:`~tabkit.nn.feat_mix`, :func:`~tabkit.nn.hidden_mix`)
belong to the estimator.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from tabkit.nn._excelformer_layers import (
    AttentiveFeedForward,
    ExcelFormerBlock,
    GatedFeatureEmbedding,
    SemiPermeableAttention,
    _check_rate,
    attenuated_uniform_,
)

__all__ = [
    "AttentiveFeedForward",
    "ExcelFormer",
    "ExcelFormerBlock",
    "GatedFeatureEmbedding",
    "SemiPermeableAttention",
    "attenuated_uniform_",
    "excelformer_flops",
]


# ================================================================= validation


def _check_int(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


# ===================================================================== model


class ExcelFormer(nn.Module):
    r"""ExcelFormer network (gated embedding, semi-permeable attention, head).

    The input columns must already be sorted by decreasing mutual information
    with the target (column 0 the most informative): the attention is causal
    over this order, so a more informative feature's token never depends on a
    less informative feature. The estimator does the sorting.

    The forward pass is split so that an estimator can mix the embedded batch
    (:func:`~tabkit.nn.feat_mix`, :func:`~tabkit.nn.hidden_mix`) in between:
    ``forward(x) == forward_embedded(embed(x))``.

    The head pools the feature axis with ``Linear(n_features, 1)``, then
    applies ``LayerNorm`` (pre-norm only), ``PReLU`` and ``Linear(d_token,
    d_out)``, as the reference code. With ``n_heads == 1`` the attention has no
    output projection (also as the reference), so the parameter count is that
    of the authors' code: with ``d_token=256, n_blocks=3, n_heads=32`` it is
    1,213,212 for 25 features and one output. There is no feed-forward
    dropout: the reference code stores an ``ffn_dropout`` but never applies
    it. The reference defaults are ``d_token=256, n_heads=32``; the defaults
    here are sized for CPUs.

    Parameters
    ----------
    n_features : int
        Number of input features (tokens).
    d_out : int
        Number of outputs (1 for regression and binary classification, ``K``
        for ``K`` classes).
    d_token : int, default=64
        Token width. The reference default is 256.
    n_blocks : int, default=3
        Number of blocks.
    n_heads : int, default=4
        Attention heads; must divide ``d_token``. The reference default is 32.
    attention_dropout : float, default=0.3
        Dropout on the attention probabilities.
    residual_dropout : float, default=0.0
        Dropout on each branch before the residual addition.
    init_scale : float, default=0.01
        Scale of the interaction-attenuated initialisation of the query, key,
        value and feed-forward weights.
    prenorm : bool, default=True
        Pre-norm blocks (the reference default) or post-norm blocks.

    Attributes
    ----------
    embedding : GatedFeatureEmbedding
    blocks : torch.nn.ModuleList of ExcelFormerBlock
    feature_pool : torch.nn.Linear
        ``Linear(n_features, 1)`` over the feature axis.
    head_norm : torch.nn.LayerNorm or torch.nn.Identity
    activation : torch.nn.PReLU
    output : torch.nn.Linear
        ``Linear(d_token, d_out)``.

    See Also
    --------
    tabkit.nn.feat_mix, tabkit.nn.hidden_mix : The mixing augmentations.
    tabkit.nn.excelformer_flops : Forward FLOPs per row.

    References
    ----------
    .. [1] J. Chen, J. Yan, Q. Chen, D. Z. Chen, J. Wu, J. Sun. "ExcelFormer:
       Can a DNN be a Sure Bet for Tabular Prediction?", KDD 2024,
       arXiv:2301.02819.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import ExcelFormer
    >>> _ = torch.manual_seed(0)
    >>> net = ExcelFormer(5, 3, d_token=16, n_blocks=2, n_heads=4)
    >>> x = torch.randn(8, 5)
    >>> net(x).shape
    torch.Size([8, 3])
    >>> z = net.embed(x)
    >>> z.shape, net.forward_embedded(z).shape
    (torch.Size([8, 5, 16]), torch.Size([8, 3]))
    >>> net.attention_maps(x).shape
    torch.Size([2, 8, 4, 5, 5])
    """

    def __init__(
        self,
        n_features: int,
        d_out: int,
        *,
        d_token: int = 64,
        n_blocks: int = 3,
        n_heads: int = 4,
        attention_dropout: float = 0.3,
        residual_dropout: float = 0.0,
        init_scale: float = 0.01,
        prenorm: bool = True,
    ) -> None:
        super().__init__()
        _check_int("n_features", n_features)
        _check_int("d_out", d_out)
        _check_int("d_token", d_token)
        _check_int("n_blocks", n_blocks)
        _check_int("n_heads", n_heads)
        if d_token % n_heads:
            raise ValueError(
                f"d_token must be divisible by n_heads, got {d_token=}, {n_heads=}"
            )
        _check_rate("attention_dropout", attention_dropout)
        _check_rate("residual_dropout", residual_dropout)
        if isinstance(init_scale, bool) or not (
            isinstance(init_scale, int | float) and 0 < init_scale < math.inf
        ):
            raise ValueError(f"init_scale must be positive, got {init_scale=}")
        if not isinstance(prenorm, bool):
            raise ValueError(f"prenorm must be a bool, got {prenorm=}")
        self.n_features = n_features
        self.d_out = d_out
        self.d_token = d_token
        self.n_heads = n_heads
        self.attention_dropout = attention_dropout
        self.residual_dropout = residual_dropout
        self.init_scale = init_scale
        self.prenorm = prenorm
        self.embedding = GatedFeatureEmbedding(n_features, d_token)
        self.blocks = nn.ModuleList(
            ExcelFormerBlock(
                d_token,
                n_heads,
                attention_dropout=attention_dropout,
                residual_dropout=residual_dropout,
                init_scale=init_scale,
                prenorm=prenorm,
                first=i == 0,
            )
            for i in range(n_blocks)
        )
        self.feature_pool = nn.Linear(n_features, 1)
        self.head_norm: nn.Module = nn.LayerNorm(d_token) if prenorm else nn.Identity()
        self.activation = nn.PReLU()
        self.output = nn.Linear(d_token, d_out)
        self.reset_parameters()

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return len(self.blocks)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this module.

        Returns
        -------
        config : dict
            Keyword arguments for ``ExcelFormer(**config)``.
        """
        return {
            "n_features": self.n_features,
            "d_out": self.d_out,
            "d_token": self.d_token,
            "n_blocks": self.n_blocks,
            "n_heads": self.n_heads,
            "attention_dropout": self.attention_dropout,
            "residual_dropout": self.residual_dropout,
            "init_scale": self.init_scale,
            "prenorm": self.prenorm,
        }

    def reset_parameters(self) -> None:
        r"""Re-initialise every parameter (the reference initialisation).

        Embedding tables and head weights: :math:`U(\pm 1/\sqrt{\text{fan-in}})`;
        attention and feed-forward: the attenuated initialisation; norms: ones
        and zeros; PReLU slope: 0.25. Uses the global torch RNG, like every
        torch module.
        """
        self.embedding.reset_parameters()
        for block in self.blocks:
            block.reset_parameters()  # type: ignore[operator]
        # PyTorch's default Linear init is the reference's (scale 1, fan-in bound).
        self.feature_pool.reset_parameters()
        if isinstance(self.head_norm, nn.LayerNorm):
            self.head_norm.reset_parameters()
        self.activation.reset_parameters()
        self.output.reset_parameters()

    def embed(self, x: Tensor) -> Tensor:
        """Embed each feature into a token.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features)
            Features sorted by decreasing mutual information.

        Returns
        -------
        z : Tensor of shape (batch_size, n_features, d_token)
        """
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected input of shape (batch_size, {self.n_features}), "
                f"got {tuple(x.shape)}"
            )
        return self.embedding(x)  # type: ignore[no-any-return]

    def forward_embedded(self, z: Tensor) -> Tensor:
        """Run the blocks and the head on embedded (possibly mixed) tokens.

        Parameters
        ----------
        z : Tensor of shape (batch_size, n_features, d_token)

        Returns
        -------
        out : Tensor of shape (batch_size, d_out)
        """
        for block in self.blocks:
            z = block(z)
        # Linear(n_features -> 1) over the feature axis as a batched product: its
        # gradient for z is contiguous (torch.matmul's would be transposed, and
        # every backward op of the residual stream would inherit that layout).
        weight = self.feature_pool.weight.expand(z.shape[0], 1, -1)
        pooled = torch.bmm(weight, z).squeeze(1)
        h = self.activation(self.head_norm(pooled + self.feature_pool.bias))
        return self.output(h)  # type: ignore[no-any-return]

    def forward(self, x: Tensor) -> Tensor:
        """Predict raw outputs.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features)
            Features sorted by decreasing mutual information.

        Returns
        -------
        out : Tensor of shape (batch_size, d_out)
        """
        return self.forward_embedded(self.embed(x))

    def attention_maps(self, x: Tensor) -> Tensor:
        """Return every block's attention probabilities, in eval mode.

        Computed explicitly (not through the fused attention kernel), without
        dropout and without gradients; the module's training mode is restored
        afterwards. The result has ``n_blocks * batch_size * n_heads *
        n_features**2`` entries: pass small batches for wide tables.

        Parameters
        ----------
        x : Tensor of shape (batch_size, n_features)
            Features sorted by decreasing mutual information.

        Returns
        -------
        maps : Tensor of shape (n_blocks, batch_size, n_heads, n_features, n_features)
            ``maps[l, b, h, i, j]``: how much feature ``i`` reads feature ``j``
            in block ``l``; rows sum to 1, entries above the diagonal are 0.
        """
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                z = self.embed(x)
                maps = []
                for block in self.blocks:
                    maps.append(block.attention_probabilities(z))  # type: ignore[operator]
                    z = block(z)
                return torch.stack(maps)
        finally:
            self.train(was_training)

    def flops(self) -> int:
        """Return the forward FLOPs per row (see :func:`excelformer_flops`).

        Returns
        -------
        flops : int
        """
        return excelformer_flops(
            self.n_features,
            self.d_out,
            d_token=self.d_token,
            n_blocks=self.n_blocks,
            n_heads=self.n_heads,
        )

    def extra_repr(self) -> str:
        """Describe sizes."""
        return (
            f"n_features={self.n_features}, d_out={self.d_out}, prenorm={self.prenorm}"
        )


def excelformer_flops(
    n_features: int,
    d_out: int,
    *,
    d_token: int = 64,
    n_blocks: int = 3,
    n_heads: int = 4,
) -> int:
    r"""Forward FLOPs of :class:`ExcelFormer` per input row.

    Counts ``2 x`` the multiply-adds of the affine maps and attention products
    (with ``f`` features and ``d = d_token``):

    - embedding: two per-feature affine maps, ``2 f d``;
    - per block: fused query/key/value ``3 f d^2``, output projection ``f d^2``
      (only when ``n_heads > 1``), attention scores ``f^2 d`` and weighted sum
      ``f^2 d`` (dense: the causal mask is not subtracted), feed-forward
      ``2 f d^2``;
    - head: feature pooling ``f d`` and output ``d d_out``.

    Element-wise work (``tanh``, gating, softmax, layer norms, residual
    additions, dropout) is not counted. A training step (forward and backward)
    costs about three times the forward.

    Parameters
    ----------
    n_features : int
        Number of features.
    d_out : int
        Number of outputs.
    d_token : int, default=64
        Token width.
    n_blocks : int, default=3
        Number of blocks.
    n_heads : int, default=4
        Attention heads (only whether it exceeds 1 matters).

    Returns
    -------
    flops : int
        Floating-point operations of one row's forward pass.

    Examples
    --------
    >>> from tabkit.nn import excelformer_flops
    >>> excelformer_flops(25, 1, d_token=256, n_blocks=3, n_heads=32)
    60941312
    """
    f, d = n_features, d_token
    out_projection = f * d * d if n_heads > 1 else 0
    per_block = 3 * f * d * d + out_projection + 2 * f * f * d + 2 * f * d * d
    macs = 2 * f * d + n_blocks * per_block + f * d + d * d_out
    return 2 * macs
