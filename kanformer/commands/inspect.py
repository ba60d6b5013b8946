"""``kanformer inspect``: parameters, FLOPs and weight memory of a model before and after kanify."""

from __future__ import annotations

import argparse

from ..model_names import BUILTIN_MODELS, HEAD_CHOICES
from . import add_ffn_flag, add_json_flag, check_json_path, command_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="parameters, FLOPs and weight memory of a model before and after kanify",
        description="Report a model's parameters (total, FFN, trainable; per layer), FLOPs per token or image "
        "and weight memory before and after kanify. MODEL: a built-in name ("
        + ", ".join(BUILTIN_MODELS)
        + "), a save_pretrained directory or a Hugging Face Hub id.",
        epilog="example: kanformer inspect minilm --ffn grkan hidden=match-params layers=[0,1] --json inspect.json",
    )
    p.add_argument("model", metavar="MODEL")
    add_ffn_flag(p)
    p.add_argument(
        "--head",
        choices=HEAD_CHOICES,
        help="model head (default auto: causal LM for decoders, classifier for encoders and ViT/DeiT)",
    )
    p.add_argument("--num-labels", type=int, metavar="N", help="classes of a classification head")
    add_json_flag(p, "the numbers")
    p.add_argument("--markdown", action="store_true", help="print markdown tables instead of plain text")
    p.add_argument(
        "settings",
        nargs="*",
        metavar="key=value",
        help="KAN FFN settings over --ffn (values read as YAML: grid_size=7 layers=[0,1] grid_range=[-2,2])",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Load MODEL, kanify a copy with the FFN settings and print both."""
    check_json_path(args.json)
    from ..bench.inspect import inspect_model, render_inspect, write_inspect_json
    from ..models import load_model
    from ..plugin.config import KANFFNConfig
    from ..train.config import ffn_with_pairs

    settings = ffn_with_pairs(args.ffn, args.settings)
    if settings is None and args.ffn is not None:
        raise ValueError(f"--ffn {args.ffn}: inspect compares a model with its kanified form; give KAN settings")
    ffn = None if settings is None else KANFFNConfig.from_dict(settings)
    model = load_model(args.model, head=args.head or "auto", num_labels=args.num_labels)
    report = inspect_model(model, ffn)
    print(render_inspect(report, markdown=args.markdown, title=args.model))
    if args.json:
        path = write_inspect_json({"model_argument": args.model, **report}, args.json, command_line(args))
        print("wrote " + path)
