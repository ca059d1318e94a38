# SPDX-License-Identifier: BSD-3-Clause
"""Hopular: modern Hopfield lookups over the training set and over a row's features.

The network of Schäfl et al. (2022), written on
:func:`torch.nn.functional.scaled_dot_product_attention` (a Hopfield lookup
with one update step is multi-head attention with its own head width and
scale). Every column of a row, the target included, is a *slot*: numeric
columns a value and a flag (1 = unknown: masked or missing), categorical
columns a code (0 = unknown, 1..K the categories; the equivalent of the
reference's one-hot vector plus flag through a linear layer). Slots are
embedded per column; each block looks the row up in the stored training rows
(sample-sample lookup, targets visible there) and then lets the row's tokens
look up the row's own embedded input (feature-feature lookup); a linear head
predicts every column back.

Columns are ordered numeric first, then categorical; ``F`` columns in all,
``D = F * feature_size`` the width of a row's state.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class Slots(NamedTuple):
    """Rows as Hopular slots.

    Attributes
    ----------
    num : Tensor of shape (n, n_numeric), float
        Numeric values (standardised; 0 where unknown).
    flag : Tensor of shape (n, n_numeric), float
        1 where the numeric value is unknown (masked or missing), else 0.
    cat : Tensor of shape (n, n_categorical), int64
        Category codes: 0 = unknown (masked, missing or unseen), 1..K.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.hopular import Slots
    >>> codes = torch.ones(3, 1, dtype=torch.long)
    >>> s = Slots(torch.zeros(3, 2), torch.zeros(3, 2), codes)
    >>> s.take(torch.tensor([0, 2])).cat.shape
    torch.Size([2, 1])
    """

    num: Tensor
    flag: Tensor
    cat: Tensor

    def take(self, rows: Tensor) -> Slots:
        """Return the slots of ``rows`` (an index tensor)."""
        return Slots(self.num[rows], self.flag[rows], self.cat[rows])

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> Slots:
        """Return the slots on ``device`` (floats as ``dtype``)."""
        return Slots(
            self.num.to(device, dtype), self.flag.to(device, dtype), self.cat.to(device)
        )


def sample_head_width(
    n_columns: int, feature_size: int, n_heads: int, cap: int | None
) -> int:
    """Head width of the sample-sample lookup: ``D // n_heads``, at most ``cap``.

    The reference uses ``D // n_heads`` (so ``n_heads`` heads span the whole
    state and the lookup has about ``4 D^2`` parameters, quadratic in the
    number of columns); a cap bounds it for wide tables.

    Parameters
    ----------
    n_columns : int
        Columns ``F`` (target included).
    feature_size : int
        Width ``e`` of a column's token.
    n_heads : int
        Heads.
    cap : int or None
        Largest head width (None: no cap, the reference).

    Returns
    -------
    width : int

    Examples
    --------
    >>> from tabkit.nn.hopular import sample_head_width
    >>> sample_head_width(11, 32, 8, None), sample_head_width(61, 32, 8, 32)
    (44, 32)
    """
    width = max(1, n_columns * feature_size // n_heads)
    return width if cap is None else max(1, min(width, cap))


class _Lookup(nn.Module):
    """Multi-head Hopfield lookup (one update step): attention with scale β."""

    def __init__(
        self, d_query: int, n_heads: int, head_dim: int, scale: float, dropout: float
    ) -> None:
        super().__init__()
        inner = n_heads * head_dim
        self.n_heads, self.head_dim = n_heads, head_dim
        self.scale, self.dropout = scale, dropout
        self.query = nn.Linear(d_query, inner)
        self.key = nn.Linear(d_query, inner)
        self.value = nn.Linear(d_query, inner)
        self.out = nn.Linear(inner, d_query)

    def split(self, x: Tensor) -> Tensor:
        """Reshape (..., n, H * h) to (..., H, n, h)."""
        heads = x.reshape(*x.shape[:-1], self.n_heads, self.head_dim)
        return heads.transpose(-3, -2)

    def keys_values(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Projected keys and values (..., H, n, h) of normalised memory states."""
        return self.split(self.key(memory)), self.split(self.value(memory))

    def forward(
        self, query: Tensor, keys: Tensor, values: Tensor, attend: Tensor | None
    ) -> Tensor:
        q = self.split(self.query(query))
        mask = None if attend is None else attend.unsqueeze(-3)
        dropout = self.dropout if self.training else 0.0
        # Without dropout, torch's CPU kernel is 4-8x faster on a leading
        # batch axis of one than on (H, n, h) tensors (measured, torch 2.13);
        # with dropout the 3-d call is the faster one.
        lift = q.dim() == 3 and dropout == 0.0
        if lift:
            q, keys, values = q[None], keys[None], values[None]
            mask = None if mask is None else mask[None]
        out = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, dropout_p=dropout, scale=self.scale
        )
        if lift:
            out = out[0]
        merged: Tensor = self.out(out.transpose(-3, -2).flatten(-2))
        return merged


class _Block(nn.Module):
    """One Hopular block: sample-sample lookup, then feature-feature lookup."""

    def __init__(
        self,
        n_columns: int,
        feature_size: int,
        *,
        n_heads: int,
        sample_head_dim: int,
        feature_head_dim: int,
        scaling_factor: float,
        dropout: float,
    ) -> None:
        super().__init__()
        d_state = n_columns * feature_size
        self.n_columns, self.feature_size = n_columns, feature_size
        self.norm_sample = nn.LayerNorm(d_state)
        self.sample = _Lookup(
            d_state,
            n_heads,
            sample_head_dim,
            scaling_factor / math.sqrt(sample_head_dim),
            dropout,
        )
        self.norm_feature = nn.LayerNorm(feature_size)
        self.feature = _Lookup(
            feature_size,
            n_heads,
            feature_head_dim,
            scaling_factor / math.sqrt(feature_head_dim),
            dropout,
        )

    def memory(self, memory_states: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values (H, N, h) of the memory states (N, D)."""
        return self.sample.keys_values(self.norm_sample(memory_states))

    def forward(
        self,
        state: Tensor,
        own: Tensor,
        memory: tuple[Tensor, Tensor],
        attend: Tensor | None,
        blind: Tensor | None,
    ) -> Tensor:
        s = self.norm_sample(state)
        found = self.sample(s, *memory, attend)
        if blind is not None:  # rows that may read no memory row: no lookup
            found = found.masked_fill(blind, 0.0)
        state = s + found
        tokens = state.reshape(-1, self.n_columns, self.feature_size)
        u = self.norm_feature(tokens)
        y = self.norm_feature(own)
        k, v = self.feature.keys_values(y)
        tokens = u + self.feature(u, k, v, None)
        out: Tensor = tokens.flatten(1)
        return out


class Hopular(nn.Module):
    """The Hopular network: slot embedding, Hopular blocks, summarisation head.

    Parameters
    ----------
    n_numeric : int
        Numeric columns (value + flag slots), the target included for
        regression.
    cardinalities : list of int
        Categories ``K`` of each categorical column (codes ``1..K``; 0 is
        unknown), the target's classes included for classification.
    feature_size : int, default=16
        Token width ``e`` per column; a row's state has ``D = F * e`` values.
    n_blocks : int, default=2
        Hopular blocks ``L``.
    n_heads : int, default=4
        Heads of both lookups.
    sample_head_dim : int or None, default=None
        Head width of the sample-sample lookup; None is the reference's
        ``D // n_heads``.
    feature_head_dim : int or None, default=None
        Head width of the feature-feature lookup; None is the reference's
        ``max(1, e // n_heads)``.
    scaling_factor : float, default=1.0
        The lookups' inverse temperature is ``scaling_factor / sqrt(head_dim)``.
    input_dropout : float, default=0.1
        Dropout inside the embedding.
    lookup_dropout : float, default=0.1
        Dropout on the attention probabilities of both lookups.
    output_dropout : float, default=0.01
        Dropout before the summarisation head.

    Attributes
    ----------
    n_columns : int
        ``F = n_numeric + len(cardinalities)``.
    output_slices : list of slice
        Where each column's prediction lies in the output: one value per
        numeric column, then ``K`` logits per categorical column.

    Notes
    -----
    Shapes: ``embed`` maps slots of ``n`` rows to tokens (n, F, e);
    ``memory_keys`` maps the memory's tokens (N, F, e) to one (keys, values)
    pair of shape (H, N, h) per block; ``forward_embedded`` maps query tokens
    (B, F, e) with those to outputs (B, n_numeric + sum(K)). ``attend`` (B, N),
    True where query ``b`` may read memory row ``n`` (the training-time
    leave-self-out mask); a query that may read no row gets no lookup result.

    Parameters: about ``L * (4 * D * H * h_s + 4 * e * H * h_f)`` in the
    lookups plus ``D * (n_numeric + sum(K))`` in the head; with the reference's
    head width (``H * h_s = D``) quadratic in the number of columns.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import Hopular
    >>> from tabkit.nn.hopular import Slots
    >>> _ = torch.manual_seed(0)
    >>> net = Hopular(2, [3], feature_size=8, n_blocks=1, n_heads=2)
    >>> rows = Slots(torch.randn(5, 2), torch.zeros(5, 2), torch.randint(1, 4, (5, 1)))
    >>> memory = net.memory_keys(net.embed(rows))
    >>> net(rows, memory).shape  # 2 numeric values + 3 logits
    torch.Size([5, 5])
    """

    cat_offsets: Tensor
    column_types: Tensor
    memory_cache: Any

    def __init__(
        self,
        n_numeric: int,
        cardinalities: list[int],
        *,
        feature_size: int = 16,
        n_blocks: int = 2,
        n_heads: int = 4,
        sample_head_dim: int | None = None,
        feature_head_dim: int | None = None,
        scaling_factor: float = 1.0,
        input_dropout: float = 0.1,
        lookup_dropout: float = 0.1,
        output_dropout: float = 0.01,
    ) -> None:
        super().__init__()
        cardinalities = [int(k) for k in cardinalities]
        if n_numeric < 0 or any(k < 1 for k in cardinalities):
            raise ValueError(
                f"n_numeric must be >= 0 and every cardinality >= 1, got "
                f"{n_numeric} and {cardinalities}"
            )
        n_columns = n_numeric + len(cardinalities)
        if n_columns == 0:
            raise ValueError("Hopular needs at least one column")
        for name, value in (
            ("feature_size", feature_size),
            ("n_blocks", n_blocks),
            ("n_heads", n_heads),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.n_numeric, self.cardinalities = n_numeric, cardinalities
        self.n_columns = n_columns
        self.feature_size, self.n_heads = feature_size, n_heads
        d_state = n_columns * feature_size
        h_s = sample_head_dim or max(1, d_state // n_heads)
        h_f = feature_head_dim or max(1, feature_size // n_heads)
        self._config: dict[str, Any] = {
            "n_numeric": n_numeric,
            "cardinalities": list(cardinalities),
            "feature_size": feature_size,
            "n_blocks": n_blocks,
            "n_heads": n_heads,
            "sample_head_dim": sample_head_dim,
            "feature_head_dim": feature_head_dim,
            "scaling_factor": float(scaling_factor),
            "input_dropout": float(input_dropout),
            "lookup_dropout": float(lookup_dropout),
            "output_dropout": float(output_dropout),
        }
        e = feature_size
        # numeric slot [value, flag] -> token: value * w + flag * u + b
        self.num_weight = nn.Parameter(torch.empty(n_numeric, e))
        self.num_flag = nn.Parameter(torch.empty(n_numeric, e))
        self.num_bias = nn.Parameter(torch.empty(n_numeric, e))
        # categorical slot (one-hot + flag) -> token: one row per code
        offsets = [0]
        for k in cardinalities:
            offsets.append(offsets[-1] + k + 1)
        self.register_buffer(
            "cat_offsets",
            torch.tensor(offsets[:-1], dtype=torch.long),
            persistent=False,
        )
        self.cat_table = nn.Parameter(torch.empty(offsets[-1], e))
        types = [0] * n_numeric + [1] * len(cardinalities)
        self.register_buffer(
            "column_types", torch.tensor(types, dtype=torch.long), persistent=False
        )
        self.type_embedding = nn.Embedding(2, e)
        self.position_embedding = nn.Embedding(n_columns, e)
        self.input_dropout = nn.Dropout(input_dropout)
        self.column_norm_weight = nn.Parameter(torch.empty(n_columns, e))
        self.column_norm_bias = nn.Parameter(torch.empty(n_columns, e))
        self.column_weight = nn.Parameter(torch.empty(n_columns, e, e))
        self.column_bias = nn.Parameter(torch.empty(n_columns, e))
        self.blocks = nn.ModuleList(
            _Block(
                n_columns,
                e,
                n_heads=n_heads,
                sample_head_dim=h_s,
                feature_head_dim=h_f,
                scaling_factor=scaling_factor,
                dropout=lookup_dropout,
            )
            for _ in range(n_blocks)
        )
        self.output_dropout = nn.Dropout(output_dropout)
        self.output_norm = nn.LayerNorm(d_state)
        widths = [1] * n_numeric + cardinalities
        self.head = nn.Linear(d_state, sum(widths))
        starts = [0]
        for w in widths:
            starts.append(starts[-1] + w)
        self.output_slices = [slice(a, b) for a, b in itertools.pairwise(starts)]
        #: Keys and values of the stored memory (set by the estimator after
        #: fit; never saved or pickled).
        self.memory_cache: Any = None
        self.reset_parameters()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["memory_cache"] = None
        return state

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this module.

        Returns
        -------
        config : dict

        Examples
        --------
        >>> from tabkit.nn import Hopular
        >>> net = Hopular(1, [2], feature_size=4, n_blocks=1, n_heads=2)
        >>> Hopular(**net.get_config()).get_config() == net.get_config()
        True
        """
        return dict(self._config, cardinalities=list(self.cardinalities))

    def reset_parameters(self) -> None:
        r"""Re-initialise every parameter (the reference's initialisation).

        Linear layers (the slot embeddings included, as the linear layers of
        one-hot slots they stand for): PyTorch's default,
        :math:`U(\pm 1/\sqrt{\text{fan-in}})` for weights and biases; type and
        position embeddings :math:`N(0, 1)`; norms scale 1, shift 0.
        """
        e = self.feature_size
        bound = 1.0 / math.sqrt(2.0)  # a numeric slot has 2 inputs
        for p in (self.num_weight, self.num_flag, self.num_bias):
            nn.init.uniform_(p, -bound, bound)
        with torch.no_grad():
            start = 0
            for k in self.cardinalities:
                bound = 1.0 / math.sqrt(k + 1)
                self.cat_table[start : start + k + 1].uniform_(-bound, bound)
                start += k + 1
        self.type_embedding.reset_parameters()
        self.position_embedding.reset_parameters()
        nn.init.ones_(self.column_norm_weight)
        nn.init.zeros_(self.column_norm_bias)
        bound = 1.0 / math.sqrt(e)
        nn.init.uniform_(self.column_weight, -bound, bound)
        nn.init.uniform_(self.column_bias, -bound, bound)
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.LayerNorm):
                module.reset_parameters()

    # ------------------------------------------------------------ forward
    def embed(self, slots: Slots) -> Tensor:
        """Embed slots of ``n`` rows: tokens of shape (n, F, e)."""
        num, flag, cat = slots
        if num.shape[1] != self.n_numeric or cat.shape[1] != len(self.cardinalities):
            raise ValueError(
                f"Hopular was built for {self.n_numeric} numeric and "
                f"{len(self.cardinalities)} categorical columns, got "
                f"{num.shape[1]} and {cat.shape[1]}"
            )
        parts = []
        if self.n_numeric:
            parts.append(
                num.unsqueeze(-1) * self.num_weight
                + flag.unsqueeze(-1) * self.num_flag
                + self.num_bias
            )
        if self.cardinalities:
            parts.append(F.embedding(cat + self.cat_offsets, self.cat_table))
        tokens = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        tokens = (
            tokens
            + self.type_embedding(self.column_types)
            + self.position_embedding.weight
        )
        tokens = self.input_dropout(F.gelu(tokens))
        tokens = F.layer_norm(tokens, (self.feature_size,), eps=1e-12)
        tokens = tokens * self.column_norm_weight + self.column_norm_bias
        out: Tensor = (
            torch.einsum("nfe,fed->nfd", tokens, self.column_weight) + self.column_bias
        )
        return out

    def memory_keys(self, memory_tokens: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Keys and values of the memory rows for every block.

        Parameters
        ----------
        memory_tokens : Tensor of shape (N, F, e)
            Embedded memory rows (targets visible).

        Returns
        -------
        memory : list of (Tensor, Tensor), one per block
            Keys and values of shape (H, N, h_s).
        """
        states = memory_tokens.flatten(1)
        return [cast(_Block, block).memory(states) for block in self.blocks]

    def forward_embedded(
        self,
        tokens: Tensor,
        memory: list[tuple[Tensor, Tensor]],
        attend: Tensor | None = None,
    ) -> Tensor:
        """Return the outputs (B, n_numeric + sum(K)) of embedded queries (B, F, e)."""
        blind = None
        if attend is not None:
            empty = ~attend.any(dim=1, keepdim=True)
            if bool(empty.any()):  # widen their mask to keep the softmax finite
                attend, blind = attend | empty, empty
        state = tokens.flatten(1)
        for block, kv in zip(self.blocks, memory, strict=True):
            state = block(state, tokens, kv, attend, blind)
        out: Tensor = self.head(self.output_norm(self.output_dropout(F.gelu(state))))
        return out

    def forward(
        self,
        slots: Slots,
        memory: list[tuple[Tensor, Tensor]],
        attend: Tensor | None = None,
    ) -> Tensor:
        """Return the outputs (B, n_numeric + sum(K)) of query slots."""
        return self.forward_embedded(self.embed(slots), memory, attend)


def corrupt(
    slots: Slots,
    cardinalities: list[int],
    *,
    select: float,
    mask: float,
    replace: float,
    generator: torch.Generator | None = None,
) -> tuple[Slots, Tensor, Tensor]:
    """Corrupt the known entries of feature slots as in BERT (Hopular's training input).

    Each known entry is selected for the reconstruction loss with probability
    ``select``; a selected entry is masked (made unknown) with probability
    ``mask``, replaced with probability ``replace`` (a numeric value by
    :math:`N(0, 1)`, a category by a uniform one), and left unchanged
    otherwise. Unknown (missing) entries are left alone and never selected.

    Parameters
    ----------
    slots : Slots
        Feature slots of ``n`` rows (no target column).
    cardinalities : list of int
        Categories of each categorical column.
    select, mask, replace : float
        Probabilities (``mask + replace <= 1``).
    generator : torch.Generator, optional
        Source of randomness (on the slots' device).

    Returns
    -------
    corrupted : Slots
    selected_num : Tensor of shape (n, n_numeric), bool
    selected_cat : Tensor of shape (n, n_categorical), bool
        Entries in the reconstruction loss.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.hopular import Slots, corrupt
    >>> g = torch.Generator().manual_seed(0)
    >>> rows = Slots(torch.ones(1000, 1), torch.zeros(1000, 1),
    ...              torch.ones(1000, 1, dtype=torch.long))
    >>> out, sel_num, sel_cat = corrupt(rows, [3], select=1.0, mask=0.5,
    ...                                 replace=0.0, generator=g)
    >>> bool(sel_num.all()), round(out.flag.mean().item(), 1)
    (True, 0.5)
    >>> bool(((out.cat == 0) | (out.cat == 1)).all())
    True
    """
    num, flag, cat = slots
    device = num.device
    source = generator.device if generator is not None else device

    def uniform(shape: tuple[int, ...]) -> Tensor:
        return torch.rand(shape, generator=generator, device=source).to(device)

    known_num = flag < 0.5
    known_cat = cat > 0
    sel_num = known_num & (uniform(num.shape) < select)
    sel_cat = known_cat & (uniform(cat.shape) < select)
    u_num, u_cat = uniform(num.shape), uniform(cat.shape)
    mask_num, mask_cat = sel_num & (u_num < mask), sel_cat & (u_cat < mask)
    rep_num = sel_num & (u_num >= mask) & (u_num < mask + replace)
    rep_cat = sel_cat & (u_cat >= mask) & (u_cat < mask + replace)
    noise = torch.randn(num.shape, generator=generator, device=source)
    noise = noise.to(device, num.dtype)
    num = torch.where(rep_num, noise, num).masked_fill(mask_num, 0.0)
    flag = flag.masked_fill(mask_num, 1.0)
    if cat.shape[1]:
        k = torch.as_tensor(cardinalities, device=device, dtype=torch.float32)
        random_codes = (uniform(cat.shape) * k).long().clamp_max(k.long() - 1) + 1
        cat = torch.where(rep_cat, random_codes, cat).masked_fill(mask_cat, 0)
    return Slots(num, flag, cat), sel_num, sel_cat


def feature_loss_weight(
    epochs: float, horizon: float, start: float = 1.0, end: float = 0.0
) -> float:
    """Weight of the feature-reconstruction loss after ``epochs`` (cosine annealing).

    ``a(t) = end + (start - end) * (1 + cos(pi * min(t / horizon, 1))) / 2``;
    the target loss gets ``1 - a``. The reference anneals over 10,000 epochs but
    trains 5,000, so it ends at ``a = 0.5``.

    Parameters
    ----------
    epochs : float
        Training progress in epochs (fractions allowed).
    horizon : float
        Epochs after which ``a`` stays at ``end``.
    start, end : float, default=1.0, 0.0
        Weights at the beginning and at the horizon.

    Returns
    -------
    a : float

    Examples
    --------
    >>> from tabkit.nn.hopular import feature_loss_weight
    >>> [round(feature_loss_weight(t, 10_000), 3) for t in (0, 1000, 2500, 5000)]
    [1.0, 0.976, 0.854, 0.5]
    """
    progress = min(max(epochs / max(horizon, 1e-12), 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
