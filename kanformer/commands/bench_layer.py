"""``kanformer bench-layer``: one KAN layer against efficient-kan, nn.Linear and an MLP FFN."""

from __future__ import annotations

import argparse

from . import add_output_dir_flag, command_line


def _shape(text: str) -> tuple[int, int]:
    try:
        tokens, d = (int(v) for v in text.lower().split("x"))
        if tokens < 1 or d < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r} is invalid: write TOKENSxWIDTH, e.g. 512x768") from None
    return tokens, d


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench-layer", help="benchmark one KAN layer against efficient-kan, Linear and an MLP")
    p.add_argument("--shapes", type=_shape, nargs="+", default=[(512, 768), (4096, 384)], metavar="TOKENSxD")
    p.add_argument("--grid-size", type=int, default=5)
    p.add_argument("--spline-order", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast dtype")
    p.add_argument(
        "--fused",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the torch.compile-fused kernels (default: on)",
    )
    p.add_argument(
        "--triton",
        action=argparse.BooleanOptionalAction,
        default=None,
        help='also measure kernel="triton" (default: on CUDA when triton is installed; pip install kanformer[gpu])',
    )
    p.add_argument(
        "--adapted",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also measure the eager layer on non-uniform knots (after update_grid with grid_eps=0.2)",
    )
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    add_output_dir_flag(p, "write layer.md and layer.json here (e.g. reports/perf)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Time and measure memory of KANLinear against efficient-kan, nn.Linear and an MLP FFN."""
    import torch

    from ..bench.layer import bench_layer, results_table, write_layer_report
    from ..provenance import environment

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is visible; use --device cpu")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    results = bench_layer(
        args.shapes,
        grid_size=args.grid_size,
        spline_order=args.spline_order,
        device=args.device,
        dtype=dtype,
        fused=args.fused,
        triton=args.triton,
        adapted=args.adapted,
        warmup=args.warmup,
        repeats=args.repeats,
    )
    print(results_table(results))
    if args.output_dir:
        paths = write_layer_report(results, environment(args.device, ("triton",)), command_line(args), args.output_dir)
        print("wrote " + ", ".join(paths))
