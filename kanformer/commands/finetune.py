"""``kanformer finetune``: fine-tune a model, original or kanified, on a task."""

from __future__ import annotations

import argparse

from ..settings import add_setting_flags, flag_values
from ..train.config import RunConfig
from . import add_ffn_flag


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a model, original or kanified, on a task (accelerate; CPU, one or many GPUs)",
        description="Fine-tune MODEL on TASK. Settings come from --config (YAML of RunConfig fields), then the "
        "flags, then key=value pairs (ffn.key=value for KAN FFN fields). Multi-GPU: accelerate launch "
        "--config_file configs/accelerate/<file>.yaml -m kanformer finetune ...",
        epilog="example: kanformer finetune --model minilm --task bbc-news --ffn kan-warm --max-steps 100 lr=5e-5",
    )
    p.add_argument("--config", help="a YAML run config (configs/glue/*.yaml, ...)")
    add_ffn_flag(p)
    p.add_argument(
        "settings", nargs="*", metavar="key=value", help="RunConfig fields (as the flags), ffn.<field> for KAN FFN"
    )
    add_setting_flags(p, RunConfig, skip=("ffn",), title="run settings (RunConfig)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Resolve the run config and fine-tune; prints the final metrics."""
    import json

    from ..train.config import resolve_run_config
    from ..train.run import finetune

    flags = {**flag_values(args, RunConfig), "ffn": args.ffn}
    cfg = resolve_run_config(args.config, flags, args.settings)
    result = finetune(cfg)
    print(json.dumps(result.final, indent=2))
    print(f"run directory: {cfg.output_dir} (metrics.json, tb/, checkpoints/, model/)")
