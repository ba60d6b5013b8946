"""The ``kanformer`` command line: each subcommand is a thin wrapper over a library call."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable

from . import __version__
from .model_names import BUILTIN_MODELS, HEAD_CHOICES

# Heavy modules (torch, transformers, datasets) are imported inside each command's function, so
# `kanformer --help` and `kanformer COMMAND --help` answer at once.


class UserError(Exception):
    """A mistake in the user's input: reported as one line, exit status 2."""


def _command(args: argparse.Namespace) -> str:
    """The command line as typed, for reports."""
    return "kanformer " + shlex.join(getattr(args, "argv", sys.argv[1:]))


def _shape(text: str) -> tuple[int, int]:
    try:
        tokens, d = (int(v) for v in text.lower().split("x"))
        if tokens < 1 or d < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r} is invalid: write TOKENSxWIDTH, e.g. 512x768") from None
    return tokens, d


def cmd_demo(args: argparse.Namespace) -> None:
    """Fit the KAN paper's first example with grid extension and print the error per grid."""
    from .paper.fitting import fit_function

    print(f"Fitting {args.function} with a KAN {args.widths}, grids {args.grids}, LBFGS on the CPU")
    stages = fit_function(args.function, widths=args.widths, grids=args.grids, steps_per_grid=args.steps)
    print(f"{'grid':>5} {'params':>7} {'train RMSE':>11} {'test RMSE':>10} {'seconds':>8}")
    for s in stages:
        print(f"{s.grid_size:>5} {s.params:>7} {s.train_rmse:>11.2e} {s.test_rmse:>10.2e} {s.seconds:>8.1f}")


def cmd_bench_layer(args: argparse.Namespace) -> None:
    """Time and measure memory of KANLinear against efficient-kan, nn.Linear and an MLP FFN."""
    import torch

    from .bench.layer import bench_layer, results_table, write_layer_report
    from .provenance import environment

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA device is visible; use --device cpu")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    try:
        results = bench_layer(
            args.shapes,
            grid_size=args.grid_size,
            spline_order=args.spline_order,
            device=args.device,
            dtype=dtype,
            fused=args.fused,
            triton=args.triton,
            warmup=args.warmup,
            repeats=args.repeats,
        )
    except ValueError as err:  # --triton without triton, or on a CPU device
        raise UserError(str(err)) from None
    print(results_table(results))
    if args.output_dir:
        command = _command(args)
        paths = write_layer_report(results, environment(args.device, ("triton",)), command, args.output_dir)
        print("wrote " + ", ".join(paths))


_INSPECT_USAGE = (
    "kanformer inspect MODEL [key=value ...] [--ffn FILE.yaml] [--head HEAD] [--num-labels N] "
    "[--json FILE] [--markdown]"
)


def _inspect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ffn", metavar="FILE.yaml", help="KAN FFN settings: a YAML mapping of KANFFNConfig fields")
    p.add_argument(
        "--head",
        choices=HEAD_CHOICES,
        help="model head (default auto: causal LM for decoders, classifier for encoders and ViT/DeiT)",
    )
    p.add_argument("--num-labels", type=int, metavar="N", help="classes of a classification head")
    p.add_argument("--json", metavar="FILE", help="also write the numbers (and the environment) as JSON")
    p.add_argument("--markdown", action="store_true", help="print markdown tables instead of plain text")


def _late_options(
    args: argparse.Namespace, command: str, usage: str, add_options: Callable[[argparse.ArgumentParser], None]
) -> list[str]:
    """Read the options written among or after the key=value pairs (argparse's REMAINDER keeps them
    in ``args.settings``) into ``args``; returns the rest. ``--help`` there prints the command's help."""
    late = argparse.ArgumentParser(
        prog=f"kanformer {command}", usage=usage, add_help=False, argument_default=argparse.SUPPRESS
    )
    add_options(late)
    extra, rest = late.parse_known_args(args.settings)
    if any(p in ("-h", "--help") for p in rest):
        build_parser().parse_args([command, "--help"])
    vars(args).update(vars(extra))
    return rest


def cmd_inspect(args: argparse.Namespace) -> None:
    """Parameters, FLOPs and weight memory of a model before and after kanify."""
    pairs = _late_options(args, "inspect", _INSPECT_USAGE, _inspect_options)
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise UserError(
            f"--json {args.json}: the folder {os.path.dirname(os.path.abspath(args.json))!r} does not exist"
        )

    from .bench.inspect import inspect_model, parse_ffn_settings, render_inspect, write_inspect_json
    from .models import load_model

    try:
        ffn = parse_ffn_settings(args.ffn, pairs)
        model = load_model(args.model, head=args.head or "auto", num_labels=args.num_labels)
        report = inspect_model(model, ffn)
    except (ValueError, OSError) as err:  # transformers' messages can span lines: keep one
        raise UserError(" ".join(str(err).split())) from None
    print(render_inspect(report, markdown=args.markdown, title=args.model))
    if args.json:
        command = _command(args)
        print("wrote " + write_inspect_json({"model_argument": args.model, **report}, args.json, command))


_BENCH_USAGE = (
    "kanformer bench MODEL [--ffn SPEC [SPEC ...]] [--task TASK] [--batch-size N] [--seq-len N] [--warmup N] "
    "[--repeats N] [--device cpu|cuda] [--dtype fp32|bf16|fp16] [--no-train] [--no-inference] [--json FILE] "
    "[--markdown] [key=value ...]"
)


def _bench_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ffn",
        nargs="+",
        metavar="SPEC",
        help="FFN variants: none (original), a preset (kan, kan-match-params, kan-warm, kan-distill, grkan, "
        "grkan-warm) or a YAML file of KAN FFN settings (default: none kan)",
    )
    p.add_argument("--task", help="take the head and num_labels from a task (glue/sst2, cifar10, ...)")
    p.add_argument("--batch-size", type=int, metavar="N", help="samples per batch (default 8)")
    p.add_argument("--seq-len", type=int, metavar="N", help="tokens per sample, text models (default 128)")
    p.add_argument("--warmup", type=int, metavar="N", help="untimed calls first (default 2)")
    p.add_argument("--repeats", type=int, metavar="N", help="timed calls (default 5)")
    p.add_argument("--device", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], help="autocast dtype (default fp32)")
    p.add_argument("--no-train", action="store_true", help="skip the training steps")
    p.add_argument("--no-inference", action="store_true", help="skip inference")
    p.add_argument("--json", metavar="FILE", help="also write the results (and the environment) as JSON")
    p.add_argument("--markdown", action="store_true", help="print a markdown table instead of plain text")


def cmd_bench(args: argparse.Namespace) -> None:
    """Training-step and inference throughput, latency and peak memory of a model's FFN variants."""
    rest = _late_options(args, "bench", _BENCH_USAGE, _bench_options)
    # --ffn takes several values, so it also swallows the key=value pairs written after it.
    specs = [s for s in args.ffn or ["none", "kan"] if "=" not in s]
    pairs = [s for s in args.ffn or [] if "=" in s] + rest
    if not specs:
        raise UserError("--ffn needs at least one SPEC (none, a preset or a YAML file)")
    if args.json and os.path.isdir(args.json):
        raise UserError(f"--json {args.json}: is a directory; give a file name")

    from .bench.model import BenchSettings, bench_variants, render_bench, variant_name
    from .io import atomic_write_json
    from .provenance import environment
    from .settings import parse_key_values

    variants: dict[str, str] = {}
    for spec in specs:
        name = variant_name(spec)
        if name in variants:
            raise UserError(f"--ffn names the variant {name!r} twice ({variants[name]!r} and {spec!r})")
        variants[name] = spec
    given = {
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "device": args.device,
        "dtype": args.dtype,
    }
    try:
        settings = BenchSettings(
            **{k: v for k, v in given.items() if v is not None},
            train=not args.no_train,
            inference=not args.no_inference,
        )
        results = bench_variants(args.model, variants, settings, task=args.task, pairs=parse_key_values(pairs))
    except (ValueError, OSError) as err:  # transformers' messages can span lines: keep one
        raise UserError(" ".join(str(err).split())) from None
    print(render_bench(results, markdown=args.markdown))
    if args.json:
        data = {
            "command": _command(args),
            "environment": environment(settings.device),
            "settings": {
                "model": args.model,
                "task": args.task,
                "variants": variants,
                "pairs": pairs,
                **settings.to_dict(),
            },
            "results": results,
        }
        print(f"wrote {atomic_write_json(args.json, data)}")


def cmd_finetune(args: argparse.Namespace) -> None:
    """Fine-tune a model (original or kanified) on a task; writes the run directory."""
    from .train.config import resolve_run_config
    from .train.run import finetune

    flags = {
        "model": args.model,
        "task": args.task,
        "ffn": args.ffn,
        "data_dir": args.data_dir,
        "output_dir": args.output_dir,
        "max_steps": args.max_steps,
        "seed": args.seed,
        "resume": True if args.resume else None,
    }
    try:
        cfg = resolve_run_config(args.config, flags, args.settings)
    except (ValueError, OSError) as err:
        raise UserError(" ".join(str(err).split())) from None
    result = finetune(cfg)
    print(json.dumps(result.final, indent=2))
    print(f"run directory: {cfg.output_dir} (metrics.json, tb/, checkpoints/, model/)")


def cmd_compare(args: argparse.Namespace) -> None:
    """Run a comparison matrix (fine-tunes + benches) and write its report."""
    from .compare import expand, load_compare_config, run_compare

    try:
        config = load_compare_config(args.config)
    except (ValueError, OSError) as err:
        raise UserError(" ".join(str(err).split())) from None
    report_dir = args.output_dir or os.path.join("reports", config.name)
    runs_dir = args.runs_dir or os.path.join("runs", config.name)
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads {args.threads}: give a number of threads >= 1")
    reference = None
    if args.reference:  # read before running: --output-dir may be the reference itself (regenerating it)
        from .report import load_results

        reference = load_results(args.reference)
    specs = expand(config)
    if args.status or args.executor:  # run directories and scheduler jobs: kanformer.compare.executors
        from pathlib import Path

        if args.status:
            from .compare.status import collect_status, render_status

            return print(render_status(collect_status(config, Path(runs_dir)), Path(runs_dir)))
        from .compare.executors import run_executor

        s = run_executor(config, Path(report_dir), Path(runs_dir), args.executor, args.max_parallel,
                         args.gpus_per_run, args.slurm, args.threads, command=_command(args))  # fmt: skip
        if s["failed"]:
            raise UserError(f"{len(s['failed'])} job(s) failed; kanformer compare {args.config} --status shows why")
        return
    if args.dry_run:
        from .compare.run import RESULT

        print(f"{len(specs)} runs (runs directory {runs_dir}, report {report_dir}):")
        for spec in specs:
            done = os.path.isfile(os.path.join(runs_dir, spec.dirname, RESULT))
            print(f"  {spec.id}{'  (finished)' if done else ''}")
        return
    import datasets

    datasets.disable_progress_bars()  # one line per run instead of a bar per split
    results = run_compare(config, report_dir, runs_dir, command=_command(args), threads=args.threads)
    from accelerate import PartialState

    if reference is not None and PartialState().is_main_process:  # set up by run_compare: one print per launch
        from .report.reference import render_against

        print(render_against(results, reference, args.reference))


def cmd_report(args: argparse.Namespace) -> None:
    """Render a comparison report again from its results.json (nothing is re-run)."""
    from .compare.jobs import render_report

    paths, missing = render_report(args.directory)
    print(f"wrote {paths[0]} and {len(paths) - 1} more files" + (f"; {len(missing)} runs missing" if missing else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kanformer",
        description="KAN feed-forward blocks for transformers: layers, benchmarks and reports.",
    )
    parser.add_argument("--version", action="version", version=f"kanformer {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="fit the KAN paper's first example with grid extension (the default job)")
    demo.add_argument("--function", default="exp(sin(pi*x)+y^2)", help="a name from kanformer.paper.fitting")
    demo.add_argument("--widths", type=int, nargs="+", default=[2, 5, 1])
    demo.add_argument("--grids", type=int, nargs="+", default=[3, 5, 10])
    demo.add_argument("--steps", type=int, default=10, help="LBFGS steps (of 20 iterations) per grid")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench-layer", help="benchmark one KAN layer against efficient-kan, Linear and an MLP")
    bench.add_argument("--shapes", type=_shape, nargs="+", default=[(512, 768), (4096, 384)], metavar="TOKENSxD")
    bench.add_argument("--grid-size", type=int, default=5)
    bench.add_argument("--spline-order", type=int, default=3)
    bench.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    bench.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast dtype")
    bench.add_argument(
        "--fused",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the torch.compile-fused kernels (default: on)",
    )
    bench.add_argument(
        "--triton",
        action=argparse.BooleanOptionalAction,
        default=None,
        help='also measure kernel="triton" (default: on CUDA when triton is installed; pip install kanformer[gpu])',
    )
    bench.add_argument("--warmup", type=int, default=3)
    bench.add_argument("--repeats", type=int, default=10)
    bench.add_argument("--output-dir", default=None, help="write layer.md and layer.json here (e.g. reports/perf)")
    bench.set_defaults(func=cmd_bench_layer)

    inspect = sub.add_parser(
        "inspect",
        help="parameters, FLOPs and weight memory of a model before and after kanify",
        usage=_INSPECT_USAGE,
        description="Report a model's parameters (total, FFN, trainable; per layer), FLOPs per token or image "
        "and weight memory before and after kanify. MODEL: a built-in name ("
        + ", ".join(BUILTIN_MODELS)
        + "), a save_pretrained directory or a Hugging Face Hub id.",
        epilog="example: kanformer inspect minilm form=grkan hidden=match-params layers=[0,1] --json inspect.json",
    )
    inspect.add_argument("model", metavar="MODEL")
    _inspect_options(inspect)
    inspect.add_argument(
        "settings",
        nargs=argparse.REMAINDER,
        metavar="key=value",
        help="KAN FFN settings overriding --ffn (values read as YAML: grid_size=7 layers=[0,1] grid_range=[-2,2])",
    )
    inspect.set_defaults(func=cmd_inspect)

    bm = sub.add_parser(
        "bench",
        help="training and inference speed and peak memory of a model, original vs KAN FFN variants",
        usage=_BENCH_USAGE,
        description="Time full training steps (forward with labels, backward, AdamW step) and inference "
        "forwards of MODEL with each FFN variant on fixed-shape batches, and measure their peak memory. "
        "MODEL: a built-in name (" + ", ".join(BUILTIN_MODELS) + "), a save_pretrained directory or a "
        "Hugging Face Hub id.",
        epilog="example: kanformer bench minilm --ffn none kan grkan --batch-size 16 --json bench.json grid_size=3",
    )
    bm.add_argument("model", metavar="MODEL")
    _bench_options(bm)
    bm.add_argument(
        "settings",
        nargs=argparse.REMAINDER,
        metavar="key=value",
        help="KAN FFN settings applied to every KAN variant (values read as YAML: grid_size=7 layers=[0,1])",
    )
    bm.set_defaults(func=cmd_bench)

    ft = sub.add_parser(
        "finetune",
        help="fine-tune a model, original or kanified, on a task (accelerate; CPU, one or many GPUs)",
        description="Fine-tune MODEL on TASK. Settings come from --config (YAML of RunConfig fields), then the "
        "flags, then key=value pairs (ffn.key=value for KAN FFN fields). Multi-GPU: accelerate launch "
        "--config_file configs/accelerate/<file>.yaml -m kanformer finetune ...",
        epilog="example: kanformer finetune --model minilm --task bbc-news --ffn kan-warm --max-steps 100 lr=5e-5",
    )
    ft.add_argument("--config", help="a YAML run config (configs/glue/*.yaml, ...)")
    ft.add_argument("--model", help="hub id, local directory or built-in name (see kanformer inspect --help)")
    ft.add_argument("--task", help="glue/<task>, cifar10, cifar100, fashion-mnist, digits, bbc-news")
    ft.add_argument(
        "--ffn",
        help="none (original), a preset (kan, kan-match-params, kan-warm, kan-distill, grkan, grkan-warm) "
        "or a YAML file of KAN FFN settings",
    )
    ft.add_argument("--data-dir", help="local task files in the real schema (offline)")
    ft.add_argument("--output-dir", help="the run directory (holds metrics.json)")
    ft.add_argument("--max-steps", type=int)
    ft.add_argument("--seed", type=int)
    ft.add_argument("--resume", action="store_true", help="continue from the latest complete checkpoint")
    ft.add_argument("settings", nargs="*", metavar="key=value", help="RunConfig fields, ffn.<field> for KAN FFN")
    ft.set_defaults(func=cmd_finetune)
    cmp = sub.add_parser(
        "compare",
        help="run a matrix of fine-tunes and benches from one YAML config and write a comparison report",
        description="Expand CONFIG (models x FFN variants x tasks x seeds) into runs, fine-tune and bench each, "
        "and write reports/<name>/ (report.md, results.json, results.csv, runs.csv, PNG plots). Finished runs "
        "are skipped, so an interrupted compare resumes where it stopped. Multi-GPU: accelerate launch "
        "--config_file configs/accelerate/multi_gpu.yaml -m kanformer compare CONFIG",
        epilog="example: kanformer compare configs/quickstart.yaml",
    )
    cmp.add_argument("config", metavar="CONFIG", help="a comparison YAML (configs/quickstart.yaml, configs/study/*)")
    cmp.add_argument("--output-dir", help="the report directory (default reports/<name>)")
    cmp.add_argument("--runs-dir", help="where the runs live, the resumable state (default runs/<name>)")
    cmp.add_argument("--dry-run", action="store_true", help="list the runs (and which finished) without running")
    cmp.add_argument(
        "--reference",
        metavar="DIR",
        help="a report directory (e.g. reports/quickstart) to print this run's numbers beside, with the differences",
    )
    cmp.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch intra-op threads for every run (default: torch's); CPU numbers are reproducible only at "
        "the same count",
    )
    cmp.add_argument("--executor", choices=["local", "slurm"], help="run each run as its own job (README: Scale out)")
    cmp.add_argument("--max-parallel", type=int, metavar="N", help="jobs at once (local; slurm: array throttle)")
    cmp.add_argument("--gpus-per-run", type=int, metavar="G", help="GPUs per training job; G > 1: accelerate launch")
    cmp.add_argument("--slurm", nargs="+", action="extend", metavar="key=value", help="sbatch options over cluster:")
    cmp.add_argument("--status", action="store_true", help="print each run's state: done, running, queued, failed")
    cmp.set_defaults(func=cmd_compare)

    rep = sub.add_parser(
        "report",
        help="render a comparison report again from its results.json",
        description="Re-render report.md, results.csv, runs.csv and the plots of DIRECTORY from its "
        "results.json, without re-running anything.",
    )
    rep.add_argument("directory", metavar="DIR", help="a report directory written by kanformer compare")
    rep.set_defaults(func=cmd_report)

    # Subcommands whose argument parsing lives with their library code.
    from .interpret.plot_commands import register as register_plot
    from .interpret.symbolic_commands import register as register_symbolic
    from .paper.commands import register as register_paper
    from .tabular.commands import register as register_tabular

    for register in (register_paper, register_plot, register_symbolic, register_tabular):
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except (UserError, ValueError) as err:
        if args.debug:
            raise
        print(f"kanformer {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
