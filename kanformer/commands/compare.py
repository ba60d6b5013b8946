"""``kanformer compare``: a matrix of fine-tunes and benches from one YAML config, and its report."""

from __future__ import annotations

import argparse
import os

from . import add_output_dir_flag, command_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="run a matrix of fine-tunes and benches from one YAML config and write a comparison report",
        description="Expand CONFIG (models x FFN variants x tasks x seeds) into runs, fine-tune and bench each, "
        "and write reports/<name>/ (report.md, results.json, results.csv, runs.csv, PNG plots). Finished runs "
        "are skipped, so an interrupted compare resumes where it stopped. Multi-GPU: accelerate launch "
        "--config_file configs/accelerate/multi_gpu.yaml -m kanformer compare CONFIG",
        epilog="example: kanformer compare configs/quickstart.yaml",
    )
    p.add_argument("config", metavar="CONFIG", help="a comparison YAML (configs/quickstart.yaml, configs/study/*)")
    add_output_dir_flag(p, "the report directory (default reports/<name>)")
    p.add_argument("--runs-dir", metavar="DIR", help="where the runs live, the resumable state (default runs/<name>)")
    p.add_argument("--dry-run", action="store_true", help="list the runs (and which finished) without running")
    p.add_argument(
        "--reference",
        metavar="DIR",
        help="a report directory (e.g. reports/quickstart) to print this run's numbers beside, with the differences",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch intra-op threads for every run (default: torch's); CPU numbers are reproducible only at "
        "the same count",
    )
    p.add_argument("--executor", choices=["local", "slurm"], help="run each run as its own job (README: Scale out)")
    p.add_argument("--max-parallel", type=int, metavar="N", help="jobs at once (local; slurm: array throttle)")
    p.add_argument("--gpus-per-run", type=int, metavar="G", help="GPUs per training job; G > 1: accelerate launch")
    p.add_argument("--slurm", nargs="+", action="extend", metavar="key=value", help="sbatch options over cluster:")
    p.add_argument("--status", action="store_true", help="print each run's state: done, running, queued, failed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Check the config, then run (or list) the matrix and write the report."""
    from ..compare import expand, load_compare_config, run_compare

    config = load_compare_config(args.config)
    report_dir = args.output_dir or os.path.join("reports", config.name)
    runs_dir = args.runs_dir or os.path.join("runs", config.name)
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: give a number of threads >= 1")
    reference = None
    if args.reference:  # read before running: --output-dir may be the reference itself (regenerating it)
        from ..report import load_results

        reference = load_results(args.reference)
    specs = expand(config)
    if args.status or args.executor:  # run directories and scheduler jobs: kanformer.compare.executors
        from pathlib import Path

        if args.status:
            from ..compare.status import collect_status, render_status

            return print(render_status(collect_status(config, Path(runs_dir)), Path(runs_dir)))
        from ..compare.executors import run_executor

        s = run_executor(config, Path(report_dir), Path(runs_dir), args.executor, args.max_parallel,
                         args.gpus_per_run, args.slurm, args.threads, command=command_line(args))  # fmt: skip
        if s["failed"]:
            raise ValueError(f"{len(s['failed'])} job(s) failed; kanformer compare {args.config} --status shows why")
        return
    if args.dry_run:
        from ..compare.run import RESULT

        print(f"{len(specs)} runs (runs directory {runs_dir}, report {report_dir}):")
        for spec in specs:
            done = os.path.isfile(os.path.join(runs_dir, spec.dirname, RESULT))
            print(f"  {spec.id}{'  (finished)' if done else ''}")
        return
    import datasets

    datasets.disable_progress_bars()  # one line per run instead of a bar per split
    results = run_compare(config, report_dir, runs_dir, command=command_line(args), threads=args.threads)
    from accelerate import PartialState

    if reference is not None and PartialState().is_main_process:  # set up by run_compare: one print per launch
        from ..report.reference import render_against

        print(render_against(results, reference, args.reference))
