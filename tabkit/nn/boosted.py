# SPDX-License-Identifier: BSD-3-Clause
"""The assembled single-hidden-layer network of the boosted sequential NN."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

Activation = Literal["logistic", "tanh", "relu"]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "logistic": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}


_INPLACE_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "logistic": torch.sigmoid_,
    "tanh": torch.tanh_,
    "relu": torch.relu_,
}


def activation_function(
    name: str, *, inplace: bool = False
) -> Callable[[Tensor], Tensor]:
    """Return the element-wise activation called ``name``.

    Parameters
    ----------
    name : {"logistic", "tanh", "relu"}
        Activation name (scikit-learn's vocabulary).
    inplace : bool, default=False
        Return the version that overwrites its argument (for fresh tensors).

    Returns
    -------
    function : callable
        Tensor -> Tensor.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.boosted import activation_function
    >>> activation_function("logistic")(torch.zeros(1)).item()
    0.5
    """
    try:
        return (_INPLACE_ACTIVATIONS if inplace else _ACTIVATIONS)[name]
    except KeyError:
        raise ValueError(
            f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}"
        ) from None


class BoostedNetwork(nn.Module):
    r"""One hidden layer of ``T * J`` units, grown step by step by gradient boosting.

    After ``t`` boosting steps the network computes

    .. math::

        F_t(x) = \sigma(x W_{1:tJ}^\top + c_{1:tJ}) V_{1:tJ} + B_t,

    where the rows of ``W`` / ``c`` / ``V`` added by step ``u`` are that step's
    ``J`` hidden units (their output weights already multiplied by the step size
    and shrinkage), and ``B_t`` is the *cumulative* output bias: the initial
    constant plus the biases of steps ``1..t``. Keeping one bias per step makes
    truncation exact: dropping the units of the last steps (the paper's
    "switch-off") gives exactly the boosting model after ``t`` steps.

    Parameters
    ----------
    d_in : int
        Number of input features.
    d_out : int
        Number of outputs (1 for regression and binary, K for K classes).
    units_per_step : int, default=1
        Hidden units ``J`` added per boosting step.
    max_steps : int, default=0
        Capacity in steps (grown on demand by :meth:`reserve`).
    activation : {"logistic", "tanh", "relu"}, default="logistic"
        Hidden activation.

    Attributes
    ----------
    hidden_weight : Parameter of shape (max_steps * units_per_step, d_in)
    hidden_bias : Parameter of shape (max_steps * units_per_step,)
    output_weight : Parameter of shape (max_steps * units_per_step, d_out)
    step_bias : Parameter of shape (max_steps + 1, d_out)
        ``step_bias[t]`` is the output bias of the model truncated to ``t`` steps.
    n_steps : int
        Steps fitted so far.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import BoostedNetwork
    >>> net = BoostedNetwork(d_in=3, d_out=1, units_per_step=2, max_steps=4)
    >>> net.set_initial(torch.tensor([0.5]))
    >>> net.add_step(torch.ones(2, 3), torch.zeros(2), torch.ones(2, 1), torch.zeros(1))
    >>> x = torch.zeros(5, 3)
    >>> net(x).squeeze(1).tolist()
    [1.5, 1.5, 1.5, 1.5, 1.5]
    >>> net(x, n_steps=0).squeeze(1).tolist()
    [0.5, 0.5, 0.5, 0.5, 0.5]
    >>> net.staged_forward(x).shape
    torch.Size([1, 5, 1])
    """

    n_steps_done: Tensor

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        units_per_step: int = 1,
        max_steps: int = 0,
        activation: Activation = "logistic",
    ) -> None:
        super().__init__()
        if d_in < 1 or d_out < 1 or units_per_step < 1 or max_steps < 0:
            raise ValueError(
                f"invalid sizes: {d_in=}, {d_out=}, {units_per_step=}, {max_steps=}"
            )
        self.d_in = d_in
        self.d_out = d_out
        self.units_per_step = units_per_step
        self.activation = activation
        self._act = activation_function(activation, inplace=True)
        units = max_steps * units_per_step
        self.hidden_weight = nn.Parameter(torch.empty(units, d_in), False)
        self.hidden_bias = nn.Parameter(torch.empty(units), False)
        self.output_weight = nn.Parameter(torch.empty(units, d_out), False)
        self.step_bias = nn.Parameter(torch.empty(max_steps + 1, d_out), False)
        self.register_buffer("n_steps_done", torch.zeros((), dtype=torch.long))
        self.reset_parameters()

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this module.

        Returns
        -------
        config : dict
            Keyword arguments for ``BoostedNetwork(**config)``.
        """
        return {
            "d_in": self.d_in,
            "d_out": self.d_out,
            "units_per_step": self.units_per_step,
            "max_steps": self.max_steps,
            "activation": self.activation,
        }

    @property
    def max_steps(self) -> int:
        """Capacity in boosting steps."""
        return int(self.step_bias.shape[0]) - 1

    @property
    def n_steps(self) -> int:
        """Number of boosting steps fitted."""
        return int(self.n_steps_done)

    def reset_parameters(self) -> None:
        """Forget every step: all weights zero, no steps fitted."""
        with torch.no_grad():
            for param in self.parameters():
                param.zero_()
            self.n_steps_done.zero_()

    def set_initial(self, bias: Tensor) -> None:
        """Set the constant model ``F_0`` (the output bias before any step).

        Parameters
        ----------
        bias : Tensor of shape (d_out,)
            The constant minimising the loss.
        """
        with torch.no_grad():
            self.step_bias[0].copy_(bias)

    def reserve(self, max_steps: int) -> None:
        """Grow the capacity to ``max_steps`` steps, keeping the fitted ones.

        Parameters
        ----------
        max_steps : int
            New capacity (no-op when not larger than the current one).
        """
        extra = max_steps - self.max_steps
        if extra <= 0:
            return
        units = extra * self.units_per_step

        def grow(param: nn.Parameter, rows: int) -> nn.Parameter:
            pad = param.new_zeros((rows, *param.shape[1:]))
            return nn.Parameter(torch.cat([param.detach(), pad]), False)

        self.hidden_weight = grow(self.hidden_weight, units)
        self.hidden_bias = grow(self.hidden_bias, units)
        self.output_weight = grow(self.output_weight, units)
        self.step_bias = grow(self.step_bias, extra)

    def truncate(self, n_steps: int) -> None:
        """Keep only the first ``n_steps`` steps and shrink the capacity to them.

        Parameters
        ----------
        n_steps : int
            Steps to keep (the paper's switch-off of the last-trained units).
        """
        if not 0 <= n_steps <= self.n_steps:
            raise ValueError(f"n_steps must be in [0, {self.n_steps}], got {n_steps}")
        units = n_steps * self.units_per_step
        self.hidden_weight = nn.Parameter(self.hidden_weight[:units].clone(), False)
        self.hidden_bias = nn.Parameter(self.hidden_bias[:units].clone(), False)
        self.output_weight = nn.Parameter(self.output_weight[:units].clone(), False)
        self.step_bias = nn.Parameter(self.step_bias[: n_steps + 1].clone(), False)
        self.n_steps_done.fill_(n_steps)

    def add_step(
        self, weight: Tensor, bias: Tensor, out_weight: Tensor, out_bias: Tensor
    ) -> None:
        """Append one step's units (output weights and bias already scaled).

        Parameters
        ----------
        weight : Tensor of shape (units_per_step, d_in)
        bias : Tensor of shape (units_per_step,)
        out_weight : Tensor of shape (units_per_step, d_out)
        out_bias : Tensor of shape (d_out,)
        """
        t = self.n_steps
        if t >= self.max_steps:
            self.reserve(max(2 * self.max_steps, t + 1))
        rows = slice(t * self.units_per_step, (t + 1) * self.units_per_step)
        with torch.no_grad():
            self.hidden_weight[rows].copy_(weight)
            self.hidden_bias[rows].copy_(bias)
            self.output_weight[rows].copy_(out_weight)
            self.step_bias[t + 1].copy_(self.step_bias[t] + out_bias)
            self.n_steps_done.add_(1)

    def _steps(self, n_steps: int | None) -> int:
        if n_steps is None:
            return self.n_steps
        if not 0 <= n_steps <= self.n_steps:
            raise ValueError(f"n_steps must be in [0, {self.n_steps}], got {n_steps}")
        return n_steps

    def hidden(
        self, x: Tensor, n_steps: int | None = None, *, out: Tensor | None = None
    ) -> Tensor:
        """Return the hidden activations of the first ``n_steps`` steps.

        Parameters
        ----------
        x : Tensor of shape (batch_size, d_in)
        n_steps : int, optional
            Steps to use (all by default).
        out : Tensor of shape (batch_size, n_steps * units_per_step), optional
            Buffer to write the activations into. Reusing one across batches
            avoids a fresh large allocation (and its page faults) per batch.

        Returns
        -------
        h : Tensor of shape (batch_size, n_steps * units_per_step)
        """
        units = self._steps(n_steps) * self.units_per_step
        bias, weight = self.hidden_bias[:units], self.hidden_weight[:units].T
        if out is None:
            return self._act(torch.addmm(bias, x, weight))
        return self._act(torch.addmm(bias, x, weight, out=out))

    def forward(
        self,
        x: Tensor,
        n_steps: int | None = None,
        *,
        hidden_out: Tensor | None = None,
    ) -> Tensor:
        """Return the raw outputs ``F_t(x)`` of the model truncated to ``n_steps``.

        Parameters
        ----------
        x : Tensor of shape (batch_size, d_in)
        n_steps : int, optional
            Steps to use (all by default); 0 gives the constant model.
        hidden_out : Tensor of shape (batch_size, n_steps * units_per_step), optional
            Buffer for the hidden activations (see :meth:`hidden`).

        Returns
        -------
        out : Tensor of shape (batch_size, d_out)
        """
        t = self._steps(n_steps)
        units = t * self.units_per_step
        h = self.hidden(x, t, out=hidden_out)
        # (V^T h^T)^T: CPUs multiply a thin (d_out x units) matrix by the
        # transposed activations several times faster than h @ V.
        out = torch.addmm(self.step_bias[t, :, None], self.output_weight[:units].T, h.T)
        return out.T.contiguous()

    def staged_forward(self, x: Tensor) -> Tensor:
        """Return ``F_t(x)`` for every ``t = 1..n_steps`` in one pass.

        Parameters
        ----------
        x : Tensor of shape (batch_size, d_in)

        Returns
        -------
        out : Tensor of shape (n_steps, batch_size, d_out)
            ``out[t - 1]`` equals ``forward(x, n_steps=t)``.
        """
        t, j, n = self.n_steps, self.units_per_step, x.shape[0]
        h = self.hidden(x, t).reshape(n, t, j)
        v = self.output_weight[: t * j].reshape(t, j, self.d_out)
        per_step = torch.einsum("ntj,tjk->tnk", h, v)  # each step's contribution
        return per_step.cumsum(dim=0) + self.step_bias[1 : t + 1, None, :]

    def extra_repr(self) -> str:
        """Describe sizes."""
        return (
            f"d_in={self.d_in}, d_out={self.d_out}, units_per_step="
            f"{self.units_per_step}, n_steps={self.n_steps}, "
            f"activation={self.activation!r}"
        )
