"""The assembled network of the boosted NN: shapes, truncation, staging."""

from __future__ import annotations

import pytest
import torch

from tabkit.nn import BoostedNetwork
from tabkit.nn.boosted import activation_function


def _random_network(steps=4, units=3, d_in=5, d_out=2, activation="tanh"):
    g = torch.Generator().manual_seed(0)
    net = BoostedNetwork(
        d_in, d_out, units_per_step=units, max_steps=2, activation=activation
    ).double()
    net.set_initial(torch.randn(d_out, generator=g, dtype=torch.float64))
    for _ in range(steps):  # grows past max_steps on demand
        net.add_step(
            torch.randn(units, d_in, generator=g, dtype=torch.float64),
            torch.randn(units, generator=g, dtype=torch.float64),
            torch.randn(units, d_out, generator=g, dtype=torch.float64),
            torch.randn(d_out, generator=g, dtype=torch.float64),
        )
    return net


def _step_by_step(net, x, t):
    """F_t as the explicit sum of the initial constant and each step's units."""
    act = activation_function(net.activation)
    j = net.units_per_step
    out = net.step_bias[0].expand(x.shape[0], -1).clone()
    for u in range(t):
        rows = slice(u * j, (u + 1) * j)
        h = act(x @ net.hidden_weight[rows].T + net.hidden_bias[rows])
        out += h @ net.output_weight[rows] + (net.step_bias[u + 1] - net.step_bias[u])
    return out


@pytest.mark.parametrize("batch_size", [0, 1, 5])
@pytest.mark.parametrize("d_out", [1, 3])
def test_shapes(batch_size, d_out):
    net = _random_network(d_out=d_out)
    x = torch.randn(batch_size, 5, dtype=torch.float64)
    assert net(x).shape == (batch_size, d_out)
    assert net.staged_forward(x).shape == (4, batch_size, d_out)
    assert net.hidden(x, 2).shape == (batch_size, 6)


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu"])
def test_truncation_is_exactly_the_model_after_t_steps(activation):
    net = _random_network(activation=activation)
    x = torch.randn(7, 5, dtype=torch.float64)
    staged = net.staged_forward(x)
    for t in range(net.n_steps + 1):
        expected = _step_by_step(net, x, t)
        torch.testing.assert_close(net(x, n_steps=t), expected, rtol=0, atol=1e-12)
        if t:
            torch.testing.assert_close(staged[t - 1], expected, rtol=0, atol=1e-12)


def test_truncate_reserve_and_reset():
    net = _random_network()
    x = torch.randn(3, 5, dtype=torch.float64)
    before = net(x, n_steps=2)
    net.reserve(10)
    assert net.max_steps == 10 and net.n_steps == 4
    net.truncate(2)
    assert net.n_steps == 2 and net.max_steps == 2
    torch.testing.assert_close(net(x), before)
    with pytest.raises(ValueError, match="n_steps"):
        net(x, n_steps=3)
    net.reset_parameters()
    assert net.n_steps == 0
    assert all(float(p.abs().sum()) == 0 for p in net.parameters())


def test_config_rebuilds_the_same_module():
    net = _random_network()
    clone = BoostedNetwork(**net.get_config()).double()
    clone.load_state_dict(net.state_dict())
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(clone(x), net(x))
    assert "n_steps=4" in repr(net)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="invalid sizes"):
        BoostedNetwork(0, 1)
    with pytest.raises(ValueError, match="activation"):
        BoostedNetwork(2, 1, activation="swish")
