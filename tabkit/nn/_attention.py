# SPDX-License-Identifier: BSD-3-Clause
"""Causal multi-head attention kernels for ExcelFormer's semi-permeable attention.

:func:`causal_attention` dispatches to
:func:`torch.nn.functional.scaled_dot_product_attention` (``is_causal=True``)
whenever PyTorch runs it through a fused kernel: always on accelerators, and on
the CPU when no dropout is applied. PyTorch's fused CPU kernel does not support
dropout and falls back to an unfused path that materialises a float dropout
mask with ``bernoulli_``, builds a triangular mask and checks for masked rows
at every call. For CPU training with attention dropout the same computation is
done by :class:`_CausalDropoutAttention`, a hand-written forward and backward
that keeps only two ``(batch * heads, f, f)`` tensors for the backward pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


def split_heads(qkv: Tensor, n_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """Split a fused ``[q | k | v]`` projection into per-head views.

    Parameters
    ----------
    qkv : Tensor of shape (batch_size, n_tokens, 3 * d)
    n_heads : int

    Returns
    -------
    q, k, v : Tensor of shape (batch_size, n_heads, n_tokens, d // n_heads)
        Strided views (no copy).
    """
    b, f, d3 = qkv.shape
    parts = qkv.view(b, f, 3, n_heads, d3 // (3 * n_heads)).permute(2, 0, 3, 1, 4)
    q, k, v = parts.unbind(0)
    return q, k, v


def causal_attention(qkv: Tensor, n_heads: int, dropout: float) -> Tensor:
    """Causal multi-head attention of a fused projection, heads merged back.

    Token ``i`` attends to tokens ``j <= i`` with probabilities
    ``softmax(q_i k_j / sqrt(d_head))``; dropout (probability ``dropout``,
    survivors scaled by ``1 / (1 - dropout)``) is applied to the
    probabilities. Dropout draws from the global torch RNG, as
    :func:`torch.nn.functional.dropout` does.

    Parameters
    ----------
    qkv : Tensor of shape (batch_size, n_tokens, 3 * d)
        ``[q | k | v]``, each of width ``d`` split into ``n_heads`` heads.
    n_heads : int
        Number of heads.
    dropout : float
        Dropout probability on the attention probabilities (pass 0 in eval).

    Returns
    -------
    out : Tensor of shape (batch_size, n_tokens, d)
    """
    b, f, d3 = qkv.shape
    d = d3 // 3
    if dropout > 0 and qkv.device.type == "cpu" and torch.is_grad_enabled():
        out: Tensor = _CausalDropoutAttention.apply(  # type: ignore[no-untyped-call]
            qkv, n_heads, dropout
        )
        return out
    q, k, v = split_heads(qkv, n_heads)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
    return out.transpose(1, 2).reshape(b, f, d)


class _CausalDropoutAttention(torch.autograd.Function):
    """Causal attention with dropout on the probabilities (CPU training path).

    With ``S = q k^T / sqrt(d_head)`` masked above the diagonal,
    ``P = softmax(S)``, the 0/1 keep mask ``K`` and ``A = K * P``, the output is
    ``A v / (1 - p)``. Saved for backward: the fused projection, ``P`` and
    ``A``. Since ``P * dP = A * dA`` (``dP = K * dA``), the softmax gradient is
    ``dS = A * dA - P * rowsum(A * dA)``: the mask itself need not be kept.

    Work runs one head at a time, so that the head's ``(batch, f, f)`` scores
    stay in cache through the softmax, the dropout and the products. Batched
    matmuls read strided views of the fused ``(batch, f, 3 d)`` projection
    directly (no per-head copies) and write contiguous head-major buffers (a
    strided output would make PyTorch fall back to one matmul per row); one copy
    per pass moves the heads back into the token layout. Scaling factors are
    folded into the matmuls.
    """

    @staticmethod
    def forward(ctx: Any, qkv: Tensor, n_heads: int, p: float) -> Tensor:
        b, f, d3 = qkv.shape
        d = d3 // 3
        d_head = d // n_heads
        scale, inv_keep = 1.0 / math.sqrt(d_head), 1.0 / (1.0 - p)
        width = _score_width(f)
        bias = _causal_bias(f, width, qkv)
        probs = qkv.new_empty(n_heads, b, f, width)
        kept = torch.empty_like(probs)
        scores = qkv.new_empty(b, f, width)  # scratch, reused by every head
        head_out = qkv.new_empty(b, f, d_head)  # scratch
        keys = qkv.new_zeros(b, width, d_head) if width > f else None  # padded keys
        if width > f:
            kept[..., f:].zero_()
        out = qkv.new_empty(b, f, d)
        for h in range(n_heads):  # one head at a time: its (b, f, f) stays in cache
            q, k = _head(qkv, h, d_head, 0), _head(qkv, h, d_head, d)
            v = _head(qkv, h, d_head, 2 * d)
            if keys is not None:  # zero keys in the padding: their scores are -inf
                keys[:, :f].copy_(k)
                k = keys
            torch.baddbmm(bias, q, k.mT, alpha=scale, out=scores)
            s = torch.softmax(scores, -1, out=probs[h])
            kept[h, ..., :f].uniform_()
            a = kept[h].ge_(p).mul_(s)  # A = K * P (zero in the padding)
            torch.baddbmm(
                head_out, a[..., :f], v, beta=0.0, alpha=inv_keep, out=head_out
            )
            _head(out, h, d_head, 0).copy_(head_out)
        ctx.save_for_backward(qkv, probs, kept)
        ctx.n_heads = n_heads
        ctx.p = p
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None, None]:
        qkv, probs, kept = ctx.saved_tensors
        n_heads, p = ctx.n_heads, ctx.p
        b, f, d3 = qkv.shape
        d = d3 // 3
        d_head = d // n_heads
        scale, inv_keep = 1.0 / math.sqrt(d_head), 1.0 / (1.0 - p)
        grad_qkv = torch.empty_like(qkv)
        grad_s = qkv.new_empty(b, f, f)  # scratch, reused by every head
        tmp = qkv.new_empty(b, f, d_head)  # scratch
        for h in range(n_heads):
            q, k = _head(qkv, h, d_head, 0), _head(qkv, h, d_head, d)
            v, g = _head(qkv, h, d_head, 2 * d), _head(grad_out, h, d_head, 0)
            a, s = kept[h, ..., :f], probs[h, ..., :f]
            tmp.baddbmm_(a.mT, g, beta=0.0, alpha=inv_keep)
            _head(grad_qkv, h, d_head, 2 * d).copy_(tmp)  # dV
            grad_s.baddbmm_(g, v.mT, beta=0.0, alpha=inv_keep).mul_(a)  # A dA
            grad_s.addcmul_(s, grad_s.sum(-1, keepdim=True), value=-1.0)  # dS
            tmp.baddbmm_(grad_s, k, beta=0.0, alpha=scale)
            _head(grad_qkv, h, d_head, 0).copy_(tmp)  # dQ
            tmp.baddbmm_(grad_s.mT, q, beta=0.0, alpha=scale)
            _head(grad_qkv, h, d_head, d).copy_(tmp)  # dK
        return grad_qkv, None, None


def _score_width(f: int) -> int:
    """Row width of the score buffers: ``f``, padded to 16 below 16.

    PyTorch's CPU softmax is vectorised over the last dimension and is about
    ten times slower per row when that dimension is shorter than one AVX-512
    vector (16 floats); padding columns with ``-inf`` scores changes nothing.
    """
    return max(f, 16)


def _causal_bias(f: int, width: int, like: Tensor) -> Tensor:
    """Return the ``(f, width)`` additive causal mask: 0 where ``j <= i``, else -inf."""
    above = torch.ones(f, width, dtype=torch.bool, device=like.device).triu_(1)
    return torch.zeros(f, width, dtype=like.dtype, device=like.device).masked_fill_(
        above, -math.inf
    )


def _head(x: Tensor, h: int, d_head: int, offset: int) -> Tensor:
    """Return head ``h``'s columns of ``x[..., offset:]`` (a strided view)."""
    start = offset + h * d_head
    return x[:, :, start : start + d_head]
