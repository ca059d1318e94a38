"""ExcelFormer module, its attention kernel, Feat-Mix / Hid-Mix and the FLOPs count."""

from __future__ import annotations

import math
from functools import partial

import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from tabkit.nn import (
    ExcelFormer,
    excelformer_flops,
    feat_mix,
    hidden_mix,
    mixed_loss,
    mixed_targets,
    normalize_feature_weights,
    sample_beta,
)
from tabkit.nn._attention import _CausalDropoutAttention, causal_attention, split_heads


def _net(n_features=6, d_out=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = {"d_token": 8, "n_blocks": 2, "n_heads": 2, **kwargs}
    return ExcelFormer(n_features, d_out, **kwargs).double()


def _block_states(net, x):
    """Token states after the embedding and after every block."""
    z = net.embed(x)
    states = [z]
    for block in net.blocks:
        z = block(z)
        states.append(z)
    return states


# ==================================================================== module


@pytest.mark.parametrize("batch_size", [0, 1, 5])
@pytest.mark.parametrize("d_out", [1, 3])
def test_shapes(batch_size, d_out):
    net = _net(d_out=d_out)
    x = torch.randn(batch_size, 6, dtype=torch.float64)
    for train in (True, False):
        net.train(train)
        assert net(x).shape == (batch_size, d_out)
        z = net.embed(x)
        assert z.shape == (batch_size, 6, 8)
        assert net.forward_embedded(z).shape == (batch_size, d_out)
    assert net.attention_maps(x).shape == (2, batch_size, 2, 6, 6)


@pytest.mark.parametrize("prenorm", [True, False])
@pytest.mark.parametrize("train", [False, True])
def test_less_informative_feature_never_changes_a_more_informative_token(
    prenorm, train
):
    net = _net(n_features=7, n_heads=2, prenorm=prenorm).train(train)
    x = torch.randn(5, 7, dtype=torch.float64)
    for j in range(1, 7):
        x2 = x.clone()
        x2[:, j] += torch.randn(5, dtype=torch.float64) * 3
        torch.manual_seed(1)  # same dropout draws in both passes (training mode)
        before = _block_states(net, x)
        torch.manual_seed(1)
        after = _block_states(net, x2)
        for a, b in zip(before, after, strict=True):
            assert torch.equal(a[:, :j], b[:, :j])  # tokens 0..j-1: bit for bit
            assert not torch.allclose(a[:, j], b[:, j])  # token j does change
    # The head mixes all tokens: the prediction depends on the last feature.
    net.eval()
    x2 = x.clone()
    x2[:, -1] += 1
    assert not torch.allclose(net(x), net(x2))


def test_parameter_count_matches_the_reference_code():
    # Blocks: 4 (d^2 + d) for q, k, v and the output projection (n_heads > 1),
    # 2 d^2 + 2 d for the feed-forward, 2 d per LayerNorm (norm1 in every block,
    # norm0 in all but the first); embedding 4 f d; head (f + 1) + 2 d + 1 +
    # (d + 1) d_out. Same W_out / head choices as the reference code.
    def expected(f, d_out, d=256, n_blocks=3):
        block = 4 * (d * d + d) + 2 * d * d + 2 * d + 2 * d
        blocks = n_blocks * block + (n_blocks - 1) * 2 * d
        return blocks + 4 * f * d + (f + 1) + 2 * d + 1 + (d + 1) * d_out

    for f, d_out, reference in [
        (25, 1, 1_213_212),
        (8, 1, 1_195_787),
        (54, 7, 1_244_479),
    ]:
        net = ExcelFormer(f, d_out, d_token=256, n_blocks=3, n_heads=32)
        n_params = sum(p.numel() for p in net.parameters())
        assert n_params == reference == expected(f, d_out)
    # One head: no output projection (as in the reference code).
    one_head = ExcelFormer(25, 1, d_token=256, n_blocks=3, n_heads=1)
    assert sum(p.numel() for p in one_head.parameters()) == 1_213_212 - 3 * (
        256 * 256 + 256
    )
    # Post-norm: norm0 in every block, no LayerNorm in the head: same count.
    post = ExcelFormer(25, 1, d_token=256, n_blocks=3, n_heads=32, prenorm=False)
    assert sum(p.numel() for p in post.parameters()) == 1_213_212


def test_reset_parameters_reinitialises_every_parameter():
    net = _net(d_token=16, n_heads=4, init_scale=0.01)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(3.0)
    net.reset_parameters()
    for name, p in net.named_parameters():
        assert not (p == 3.0).any(), name
    d = 16
    for block in net.blocks:
        att, ffn = block.attention, block.feed_forward
        assert att.qkv.weight.abs().max() <= 0.01 / math.sqrt(d)
        assert ffn.linear.weight.abs().max() <= 0.01 / math.sqrt(d)
        assert att.out.weight.abs().max() <= 1 / math.sqrt(d)
        assert att.out.weight.abs().max() > 0.01 / math.sqrt(d)
        for bias in (att.qkv.bias, att.out.bias, ffn.linear.bias):
            assert torch.equal(bias, torch.zeros_like(bias))
    emb = net.embedding
    for table in (emb.weight1, emb.bias1, emb.weight2, emb.bias2):
        assert 0 < table.abs().max() <= 1 / math.sqrt(d)
    assert net.activation.weight.item() == 0.25
    assert torch.equal(net.head_norm.weight, torch.ones(d))


def test_deterministic_given_the_seed():
    a, b = _net(seed=3), _net(seed=3)
    for (name, p), q in zip(
        a.state_dict().items(), b.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name
    x = torch.randn(4, 6, dtype=torch.float64)
    a.train(), b.train()
    torch.manual_seed(7)
    out_a = a(x)
    torch.manual_seed(7)
    assert torch.equal(out_a, b(x))
    assert not torch.equal(_net(seed=4)(x), _net(seed=3)(x))


@pytest.mark.parametrize("prenorm", [True, False])
def test_config_rebuilds_the_same_module(prenorm):
    net = _net(n_features=5, d_out=3, n_heads=4, prenorm=prenorm, residual_dropout=0.1)
    clone = ExcelFormer(**net.get_config()).double()
    assert {k: v.shape for k, v in clone.state_dict().items()} == {
        k: v.shape for k, v in net.state_dict().items()
    }
    clone.load_state_dict(net.state_dict())
    x = torch.randn(4, 5, dtype=torch.float64)
    net.eval(), clone.eval()
    torch.testing.assert_close(clone(x), net(x))
    assert clone.get_config() == net.get_config()
    assert f"prenorm={prenorm}" in repr(net)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_features": 0}, "n_features"),
        ({"d_out": 0}, "d_out"),
        ({"d_token": 10, "n_heads": 4}, "divisible"),
        ({"n_blocks": 0}, "n_blocks"),
        ({"n_heads": 2.0}, "n_heads"),
        ({"attention_dropout": 1.0}, "attention_dropout"),
        ({"attention_dropout": "0.1"}, "attention_dropout must be a number"),
        ({"residual_dropout": -0.1}, "residual_dropout"),
        ({"init_scale": 0.0}, "init_scale"),
        ({"prenorm": "yes"}, "prenorm"),
    ],
)
def test_invalid_arguments(kwargs, match):
    args = {"n_features": 3, "d_out": 1, "d_token": 8, "n_heads": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ExcelFormer(**args)


def test_wrong_input_width_is_named():
    with pytest.raises(ValueError, match=r"\(batch_size, 6\)"):
        _net()(torch.randn(2, 5, dtype=torch.float64))


def test_attention_maps_are_causal_distributions_and_the_ones_used():
    net = _net(n_features=5, n_heads=2).train()
    x = torch.randn(4, 5, dtype=torch.float64)
    maps = net.attention_maps(x)
    assert net.training  # mode restored
    assert maps.shape == (2, 4, 2, 5, 5)
    torch.testing.assert_close(
        maps.sum(-1), torch.ones(2, 4, 2, 5, dtype=torch.float64)
    )
    assert torch.equal(maps.triu(1), torch.zeros_like(maps))
    assert (maps[..., torch.ones(5, 5, dtype=torch.bool).tril()] > 0).all()
    # The maps reproduce each block's attention output in eval mode.
    net.eval()
    z = net.embed(x)
    for block, probs in zip(net.blocks, maps, strict=True):
        att = block.attention
        inp = block.norm0(z)
        _, _, v = split_heads(att.qkv(inp), att.n_heads)
        merged = (probs @ v).transpose(1, 2).reshape(z.shape)
        torch.testing.assert_close(att(inp), att.out(merged))
        z = block(z)


# ======================================================== attention kernel


def _reference_attention(qkv, n_heads, p, seed):
    """Causal attention with dropout written out (mask drawn as the kernel does)."""
    b, f, _ = qkv.shape
    q, k, v = split_heads(qkv, n_heads)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    above = torch.ones(f, f, dtype=torch.bool).triu(1)
    probs = scores.masked_fill(above, -math.inf).softmax(-1)
    torch.manual_seed(seed)
    keep = torch.rand(n_heads, b, f, f, dtype=qkv.dtype) >= p  # head-major draws
    attn = probs * keep.transpose(0, 1) / (1 - p)
    return (attn @ v).transpose(1, 2).reshape(b, f, -1)


@pytest.mark.parametrize("n_heads", [1, 3])
def test_dropout_attention_kernel_matches_reference_and_gradcheck(n_heads):
    qkv = torch.randn(3, 5, 3 * 6, dtype=torch.float64, requires_grad=True)

    def kernel(t):
        torch.manual_seed(5)
        return _CausalDropoutAttention.apply(t, n_heads, 0.3)

    torch.testing.assert_close(kernel(qkv), _reference_attention(qkv, n_heads, 0.3, 5))
    grad = torch.randn(3, 5, 6, dtype=torch.float64)
    (expected,) = torch.autograd.grad(
        _reference_attention(qkv, n_heads, 0.3, 5), qkv, grad
    )
    (got,) = torch.autograd.grad(kernel(qkv), qkv, grad)
    torch.testing.assert_close(got, expected)
    assert torch.autograd.gradcheck(kernel, (qkv,))


def test_dropout_kernel_is_sdpa_without_dropout_and_drops_at_the_rate():
    qkv = torch.randn(2, 4, 12, dtype=torch.float64)
    q, k, v = split_heads(qkv, 2)
    sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    tiny = _CausalDropoutAttention.apply(qkv, 2, 1e-12)
    torch.testing.assert_close(tiny, sdpa.transpose(1, 2).reshape(2, 4, 4))
    # Through the dispatcher: eval (dropout 0) takes the SDPA path.
    torch.testing.assert_close(causal_attention(qkv, 2, 0.0), tiny)
    # With v = 1 every output entry is the kept probability mass / (1 - p):
    # its mean over many rows is 1.
    ones = torch.cat([torch.randn(4000, 6, 16), torch.ones(4000, 6, 8)], dim=2)
    torch.manual_seed(0)
    out = _CausalDropoutAttention.apply(ones.double(), 2, 0.3)
    assert abs(out.mean().item() - 1) < 0.01


# ==================================================================== FLOPs


def test_flops_hand_count():
    # f=3, d=4, one block, two heads, two outputs; multiply-adds:
    # embedding 2*3*4 = 24; qkv 3*3*16 = 144; W_out 3*16 = 48; scores 9*4 = 36;
    # weighted sum 36; feed-forward 3*4*8 = 96; pooling 3*4 = 12; output 4*2 = 8.
    macs = 24 + 144 + 48 + 36 + 36 + 96 + 12 + 8
    assert excelformer_flops(3, 2, d_token=4, n_blocks=1, n_heads=2) == 2 * macs
    assert excelformer_flops(3, 2, d_token=4, n_blocks=1, n_heads=1) == 2 * (macs - 48)
    net = ExcelFormer(3, 2, d_token=4, n_blocks=1, n_heads=2)
    assert net.flops() == 2 * macs


@pytest.mark.parametrize("n_heads", [1, 4])
def test_flops_match_torch_flop_counter(n_heads):
    f, d, n_blocks, batch = 5, 8, 2, 7
    net = ExcelFormer(f, 3, d_token=d, n_blocks=n_blocks, n_heads=n_heads).eval()
    with FlopCounterMode(display=False) as counter:
        net(torch.randn(batch, f))
    # The counter sees the linear layers and the pooling, not the fused CPU
    # attention kernel nor the element-wise embedding: add those by hand.
    attention = n_blocks * 2 * (2 * f * f * d)
    embedding = 2 * (2 * f * d)
    expected = excelformer_flops(f, 3, d_token=d, n_blocks=n_blocks, n_heads=n_heads)
    assert (
        counter.get_total_flops() + batch * (attention + embedding) == batch * expected
    )


# =================================================================== mixing


@pytest.mark.parametrize("beta", [0.3, 0.5, 2.0])
def test_sample_beta_distribution(beta):
    r = sample_beta(beta, 20_000, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(r.mean().item() - 0.5) < 0.015
    var = 1 / (4 * (2 * beta + 1))
    assert abs(r.var().item() - var) / var < 0.05
    assert scipy.stats.kstest(r.numpy(), scipy.stats.beta(beta, beta).cdf).pvalue > 1e-3


def test_sample_beta_extremes_and_rng_isolation():
    state = torch.get_rng_state()
    tiny = sample_beta(1e-4, 1000, torch.Generator().manual_seed(1))
    assert torch.isfinite(tiny).all()
    assert ((tiny < 1e-6) | (tiny > 1 - 1e-6)).float().mean() > 0.99
    assert 0.4 < (tiny > 0.5).float().mean() < 0.6
    wide = sample_beta(200.0, 1000, torch.Generator().manual_seed(1))
    assert (wide - 0.5).abs().max() < 0.2
    assert torch.equal(torch.get_rng_state(), state)  # global RNG never used
    a = sample_beta(0.5, 10, torch.Generator().manual_seed(2))
    assert torch.equal(a, sample_beta(0.5, 10, torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError, match="beta"):
        sample_beta(0.0, 3, torch.Generator())


def _draws(beta, b, width, seed):
    """Replay the documented draw order: rates, permutation, uniforms."""
    g = torch.Generator().manual_seed(seed)
    rate = sample_beta(beta, b, g)
    perm = torch.randperm(b, generator=g)
    return rate, perm, torch.rand(b, width, generator=g)


def test_feat_mix_lambda_is_the_weight_of_the_kept_features():
    b, f, d = 64, 5, 3
    z = torch.randn(b, f, d, dtype=torch.float64, requires_grad=True)
    scores = torch.tensor([0.5, 0.2, 0.2, 0.1, 0.0], dtype=torch.float64) * 3
    state = torch.get_rng_state()
    z_mixed, lam, perm = feat_mix(z, scores, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(torch.get_rng_state(), state)
    rate, expected_perm, u = _draws(0.5, b, f, 4)
    keep = u > rate[:, None]
    assert torch.equal(perm, expected_perm)
    torch.testing.assert_close(lam, keep.double() @ (scores / scores.sum()))
    assert torch.equal(z_mixed, torch.where(keep[..., None], z, z[perm]))
    assert 0 < keep.float().mean() < 1  # some tokens kept, some swapped
    # Gradients reach both the sample and its partner.
    (z_mixed * torch.arange(b * f * d).view(b, f, d)).sum().backward()
    assert (z.grad != 0).any()
    again = feat_mix(z, scores, 0.5, torch.Generator().manual_seed(4))
    assert all(
        torch.equal(x, y) for x, y in zip(again, (z_mixed, lam, perm), strict=True)
    )


def test_feat_mix_nothing_swapped_means_lambda_one():
    z = torch.randn(200, 4, 3)
    z_mixed, lam, perm = feat_mix(
        z, torch.tensor([4.0, 3.0, 2.0, 1.0]), 1e-4, torch.Generator().manual_seed(0)
    )
    whole = torch.isclose(lam, torch.ones(())) | torch.isclose(lam, torch.zeros(()))
    assert whole.float().mean() > 0.99  # tiny beta: rates are (almost) 0 or 1
    kept = torch.isclose(lam, torch.ones(()))
    assert 0.3 < kept.float().mean() < 0.7
    assert torch.equal(z_mixed[kept], z[kept])  # lambda = 1 <=> nothing swapped
    gone = torch.isclose(lam, torch.zeros(()))
    assert torch.equal(z_mixed[gone], z[perm][gone])


def test_feat_mix_zero_weights_are_uniform_and_shapes_checked():
    z = torch.randn(32, 4, 2)
    _, lam, _ = feat_mix(z, torch.zeros(4), 0.5, torch.Generator().manual_seed(0))
    rate, _, u = _draws(0.5, 32, 4, 0)
    torch.testing.assert_close(lam, (u > rate[:, None]).float().mean(1))
    assert torch.equal(
        normalize_feature_weights(torch.zeros(3)), torch.full((3,), 1 / 3)
    )
    with pytest.raises(ValueError, match=r"feature_weights must have shape \(4,\)"):
        feat_mix(z, torch.ones(3), 0.5, torch.Generator())
    with pytest.raises(ValueError, match="non-negative"):
        feat_mix(z, torch.tensor([1.0, -1.0, 0.0, 0.0]), 0.5, torch.Generator())
    with pytest.raises(ValueError, match="embedded batch"):
        feat_mix(z[:, :, 0], torch.ones(4), 0.5, torch.Generator())


def test_hidden_mix_lambda_is_the_rate_and_channels_are_shared():
    b, f, d = 128, 3, 256
    z = torch.randn(b, f, d)
    z_mixed, lam, perm = hidden_mix(z, 0.5, torch.Generator().manual_seed(9))
    rate, expected_perm, u = _draws(0.5, b, d, 9)
    assert torch.equal(lam, rate) and torch.equal(perm, expected_perm)
    keep = u < rate[:, None]
    assert torch.equal(z_mixed, torch.where(keep[:, None, :], z, z[perm]))
    # The realised kept fraction of channels is close to lambda.
    assert (keep.float().mean(1) - lam).abs().mean() < 0.05


def test_mixed_loss_is_soft_target_cross_entropy():
    g = torch.Generator().manual_seed(0)
    b, k = 16, 4
    logits = torch.randn(b, k, dtype=torch.float64)
    y = torch.randint(0, k, (b,))
    _, lam, perm = feat_mix(torch.randn(b, 3, 2), torch.rand(3), 0.5, g)
    lam = lam.double()
    soft = lam[:, None] * F.one_hot(y, k) + (1 - lam[:, None]) * F.one_hot(y[perm], k)
    ce = partial(F.cross_entropy, reduction="none")
    torch.testing.assert_close(
        mixed_loss(ce, logits, y, lam, perm), F.cross_entropy(logits, soft)
    )
    # Binary: BCE with logits against the mixed 0/1 target.
    score = torch.randn(b, 1, dtype=torch.float64)
    y01 = torch.randint(0, 2, (b, 1)).double()
    bce = partial(F.binary_cross_entropy_with_logits, reduction="none")
    target = lam[:, None] * y01 + (1 - lam[:, None]) * y01[perm]
    torch.testing.assert_close(
        mixed_loss(bce, score, y01, lam, perm),
        F.binary_cross_entropy_with_logits(score, target),
    )


def test_mixed_loss_with_sample_weights():
    b = 8
    logits = torch.randn(b, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (b,))
    lam = torch.rand(b, dtype=torch.float64)
    perm = torch.randperm(b)
    w = torch.rand(b, dtype=torch.float64) * 3
    ce = partial(F.cross_entropy, reduction="none")
    own, other = ce(logits, y), ce(logits, y[perm])
    num = (lam * w * own + (1 - lam) * w[perm] * other).sum()
    den = (lam * w + (1 - lam) * w[perm]).sum()
    got = mixed_loss(ce, logits, y, lam, perm, sample_weight=w)
    torch.testing.assert_close(got, num / den)
    unit = mixed_loss(ce, logits, y, lam, perm, sample_weight=torch.ones(b))
    torch.testing.assert_close(unit, mixed_loss(ce, logits, y, lam, perm))
    zero = mixed_loss(ce, logits, y, lam, perm, sample_weight=torch.zeros(b))
    assert zero.item() == 0.0
    with pytest.raises(ValueError, match="reduction='none'"):
        mixed_loss(F.cross_entropy, logits, y, lam, perm)


@pytest.mark.parametrize("weighted", [False, True])
def test_mixed_targets_give_the_mixed_loss_gradient(weighted):
    b = 10
    pred = torch.randn(b, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(b, 2, dtype=torch.float64)
    lam = torch.rand(b, dtype=torch.float64)
    perm = torch.randperm(b)
    w = torch.rand(b, dtype=torch.float64) if weighted else None
    y_mixed, weight = mixed_targets(y, lam, perm, sample_weight=w)
    assert (weight is None) == (not weighted)
    if weight is None:
        torch.testing.assert_close(
            y_mixed, lam[:, None] * y + (1 - lam[:, None]) * y[perm]
        )
        loss_t = F.mse_loss(pred, y_mixed, reduction="none").mean(1).mean()
    else:
        per_row = F.mse_loss(pred, y_mixed, reduction="none").mean(1)
        loss_t = (weight * per_row).sum() / weight.sum()
    mse = partial(F.mse_loss, reduction="none")
    loss_l = mixed_loss(mse, pred, y, lam, perm, sample_weight=w)
    (g_t,) = torch.autograd.grad(loss_t, pred)
    (g_l,) = torch.autograd.grad(loss_l, pred)
    torch.testing.assert_close(g_t, g_l)
    assert loss_l.item() >= loss_t.item()  # larger by a non-negative constant


# ====================================================================== CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_cuda_forward_matches_cpu_and_keeps_the_mask():
    torch.manual_seed(0)
    net = ExcelFormer(7, 3, d_token=32, n_blocks=2, n_heads=4).eval()
    x = torch.randn(16, 7)
    gpu = ExcelFormer(**net.get_config()).cuda().eval()
    gpu.load_state_dict(net.state_dict())
    xg = x.cuda()
    torch.testing.assert_close(gpu(xg).cpu(), net(x), rtol=1e-4, atol=1e-4)
    maps = gpu.attention_maps(xg)
    torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps[..., 0]))
    x2 = xg.clone()
    x2[:, 4:] += 1
    for a, b in zip(_block_states(gpu, xg), _block_states(gpu, x2), strict=True):
        torch.testing.assert_close(a[:, :4], b[:, :4], rtol=0, atol=1e-6)
    gpu.train()
    loss = gpu(xg).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in gpu.parameters())


@cuda
@pytest.mark.parametrize("generator_device", ["cpu", "cuda"])
def test_cuda_mixing(generator_device):
    z = torch.randn(32, 5, 8, device="cuda")
    g = torch.Generator(device=generator_device).manual_seed(0)
    z_mixed, lam, perm = feat_mix(z, torch.rand(5, device="cuda"), 0.5, g)
    assert z_mixed.device == lam.device == perm.device == z.device
    z_mixed, lam, perm = hidden_mix(z, 0.5, g)
    assert z_mixed.device == lam.device == perm.device == z.device
    r = sample_beta(
        0.5, 20_000, torch.Generator(device=generator_device).manual_seed(1)
    )
    assert r.device.type == generator_device
    assert abs(r.mean().item() - 0.5) < 0.02
    logits = torch.randn(32, 3, device="cuda")
    y = torch.randint(0, 3, (32,), device="cuda")
    ce = partial(F.cross_entropy, reduction="none")
    assert torch.isfinite(mixed_loss(ce, logits, y, lam, perm))
