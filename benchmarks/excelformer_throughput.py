# SPDX-License-Identifier: BSD-3-Clause
"""Training-step throughput of tabkit's ExcelFormer module against pytorch-frame's.

.. code-block:: bash

    python -m benchmarks.excelformer_throughput \
        --configs 256x25x64x3x4,512x54x256x3x32 --rounds 20 --threads 1
    # on a GPU (pytorch-frame skipped when not installed), bf16 autocast:
    python -m benchmarks.excelformer_throughput --device cuda --autocast bf16 \
        --configs 512x54x256x3x32,4096x54x256x3x32 --rounds 50

A configuration is ``batch x features x d_token x blocks x heads``. For each,
both networks are built at the same sizes (attention dropout 0.3, no residual
or feed-forward dropout, two classes) and trained on one fixed random batch
with Adam: a step is forward, cross-entropy, backward and the optimiser
update. Steps of the two models alternate for ``--rounds`` rounds after two
warm-up steps, so that load from other processes hits both alike; the table
reports median rows per second in process CPU time (``cpu``) and wall time
(``wall``), tabkit's speed-up over pytorch-frame, tabkit's forward FLOPs per
row (:func:`tabkit.nn.excelformer_flops`), the training FLOP rate (three
times the forward FLOPs per row) and its fraction of this machine's matmul
peak (a single-thread 2048 x 2048 float32 GEMM, measured first). On a GPU
(``--device cuda``) times are wall-clock after synchronisation (the ``cpu``
columns repeat them) and the peak is an 8192 x 8192 GEMM in the autocast
dtype.

This measures the modules only: no data loading, mixing or estimator; the
tabular benchmark's throughput column covers whole epochs.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tabkit.nn import ExcelFormer, excelformer_flops

Step = Callable[[], None]


def parse_config(text: str) -> tuple[int, int, int, int, int]:
    """Parse ``batch x features x d_token x blocks x heads``."""
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) != 5:
        raise ValueError(f"expected BxFxDxLxH, got {text!r}")
    b, f, d, n_blocks, n_heads = parts
    return b, f, d, n_blocks, n_heads


def matmul_peak_gflops(
    device: str = "cpu", dtype: torch.dtype = torch.float32, repeats: int = 5
) -> float:
    """Best single-call GFLOP/s of a square matmul (2048 on CPU, 8192 on GPU)."""
    n = 2048 if device == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    clock = _clock(device)
    best = math.inf
    for _ in range(repeats + 1):
        start = clock()
        a @ b
        best = min(best, clock() - start)
    return 2 * n**3 / best / 1e9


def _clock(device: str) -> Callable[[], float]:
    """CPU time on the CPU; synchronised wall time on an accelerator."""
    if device == "cpu":
        return time.process_time

    def synchronised() -> float:
        torch.cuda.synchronize()
        return time.perf_counter()

    return synchronised


def _training_step(
    model: torch.nn.Module,
    inputs: object,
    y: torch.Tensor,
    device: str,
    autocast: torch.dtype | None,
) -> Step:
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    y = y.to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=autocast, enabled=autocast is not None):
            loss = F.cross_entropy(model(inputs), y)
        loss.backward()
        opt.step()

    return step


Shape = tuple[int, int, int, int, int]


def tabkit_step(shape: Shape, device: str, autocast: torch.dtype | None) -> Step:
    """One training step of :class:`tabkit.nn.ExcelFormer`."""
    b, f, d, n_blocks, n_heads = shape
    torch.manual_seed(0)
    model = ExcelFormer(
        f, 2, d_token=d, n_blocks=n_blocks, n_heads=n_heads, attention_dropout=0.3
    )
    x = torch.randn(b, f, device=device)
    return _training_step(model, x, torch.randint(0, 2, (b,)), device, autocast)


def frame_step(shape: Shape, device: str, autocast: torch.dtype | None) -> Step:
    """One training step of pytorch-frame's ``ExcelFormer`` (same sizes)."""
    from torch_frame import TensorFrame, stype
    from torch_frame.data.stats import StatType
    from torch_frame.nn.models import ExcelFormer as FrameExcelFormer

    b, f, d, n_blocks, n_heads = shape
    torch.manual_seed(0)
    names = [f"x{i}" for i in range(f)]
    model = FrameExcelFormer(
        in_channels=d,
        out_channels=2,
        num_cols=f,
        num_layers=n_blocks,
        num_heads=n_heads,
        col_stats={n: {StatType.MEAN: 0.0, StatType.STD: 1.0} for n in names},
        col_names_dict={stype.numerical: names},
        diam_dropout=0.3,
    )
    frame = TensorFrame({stype.numerical: torch.randn(b, f)}, {stype.numerical: names})
    y = torch.randint(0, 2, (b,))
    return _training_step(model, frame.to(device), y, device, autocast)


def measure(
    steps: dict[str, Step], rounds: int, device: str = "cpu"
) -> dict[str, dict[str, float]]:
    """Median CPU and wall seconds per step, steps interleaved round by round."""
    clock = _clock(device)
    cpu: dict[str, list[float]] = {k: [] for k in steps}
    wall: dict[str, list[float]] = {k: [] for k in steps}
    for step in steps.values():
        step()
        step()
    for _ in range(rounds):
        for name, step in steps.items():
            w0, c0 = time.perf_counter(), clock()
            step()
            cpu[name].append(clock() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {
        k: {"cpu": statistics.median(cpu[k]), "wall": statistics.median(wall[k])}
        for k in steps
    }


def main(argv: list[str] | None = None) -> None:
    """Print the throughput table (markdown) for the requested configurations."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="256x25x64x3x4,512x54x256x3x32")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-frame", action="store_true", help="tabkit only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--autocast", choices=["none", "bf16"], default="none")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    autocast = torch.bfloat16 if args.autocast == "bf16" else None
    out = sys.stdout
    with_frame = not args.no_frame
    if with_frame and importlib.util.find_spec("torch_frame") is None:
        out.write("pytorch-frame is not installed: tabkit only\n")
        with_frame = False
    dtype = autocast or torch.float32
    peak = matmul_peak_gflops(args.device, dtype)
    out.write(
        f"matmul peak: {peak:.1f} GFLOP/s ({args.device}, {args.threads} "
        f"thread(s), {dtype})\n\n"
    )
    out.write(
        "| config (BxFxDxLxH) | model | rows/s cpu | rows/s wall | speed-up cpu "
        "| speed-up wall | fwd MFLOP/row | train GFLOP/s (cpu) | % of peak |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    for text in args.configs.split(","):
        shape = parse_config(text)
        b, f, d, n_blocks, n_heads = shape
        steps = {"tabkit": tabkit_step(shape, args.device, autocast)}
        if with_frame:
            steps["pytorch-frame"] = frame_step(shape, args.device, autocast)
        times = measure(steps, args.rounds, args.device)
        flops = excelformer_flops(f, 2, d_token=d, n_blocks=n_blocks, n_heads=n_heads)
        base = times.get("pytorch-frame")
        for name, t in times.items():
            rate = 3 * flops * b / t["cpu"] / 1e9
            up_cpu = f"{base['cpu'] / t['cpu']:.2f}x" if base else "-"
            up_wall = f"{base['wall'] / t['wall']:.2f}x" if base else "-"
            out.write(
                f"| {text} | {name} | {b / t['cpu']:.0f} | {b / t['wall']:.0f} "
                f"| {up_cpu} | {up_wall} | {flops / 1e6:.1f} | {rate:.1f} "
                f"| {100 * rate / peak:.0f} |\n"
            )
            out.flush()


if __name__ == "__main__":
    main()
