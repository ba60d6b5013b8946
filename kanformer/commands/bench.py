"""``kanformer bench``: training and inference speed and peak memory of a model's FFN variants."""

from __future__ import annotations

import argparse

from ..bench.settings import BenchSettings
from ..model_names import BUILTIN_MODELS
from ..settings import add_setting_flags, flag_values, from_settings, parse_key_values
from . import add_ffn_flag, add_json_flag, check_json_path, command_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="training and inference speed and peak memory of a model, original vs KAN FFN variants",
        description="Time full training steps (forward with labels, backward, AdamW step) and inference "
        "forwards of MODEL with each FFN variant on fixed-shape batches, and measure their peak memory. "
        "MODEL: a built-in name (" + ", ".join(BUILTIN_MODELS) + "), a save_pretrained directory or a "
        "Hugging Face Hub id.",
        epilog="example: kanformer bench minilm --ffn none --ffn kan --ffn 'grkan grid_size=3' --batch-size 16 "
        "--json bench.json",
    )
    p.add_argument("model", metavar="MODEL")
    add_ffn_flag(p, several=True)
    p.add_argument("--task", help="take the head and num_labels from a task (glue/sst2, cifar10, ...)")
    add_json_flag(p, "the results")
    p.add_argument("--markdown", action="store_true", help="print a markdown table instead of plain text")
    p.add_argument(
        "settings",
        nargs="*",
        metavar="key=value",
        help="KAN FFN settings applied to every KAN variant (values read as YAML: grid_size=7 layers=[0,1])",
    )
    add_setting_flags(p, BenchSettings, title="bench settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    """Bench every --ffn variant and print (and optionally write) the table."""
    check_json_path(args.json)
    specs = args.ffn or ["none", "kan"]
    settings = from_settings(BenchSettings, flag_values(args, BenchSettings), what="bench")
    pairs = parse_key_values(args.settings)

    from ..bench.model import bench_variants, render_bench, variant_name
    from ..io import atomic_write_json
    from ..provenance import environment

    variants: dict[str, str] = {}
    for spec in specs:
        name = variant_name(spec)
        if name in variants:
            raise ValueError(f"--ffn names the variant {name!r} twice ({variants[name]!r} and {spec!r})")
        variants[name] = spec
    results = bench_variants(args.model, variants, settings, task=args.task, pairs=pairs)
    print(render_bench(results, markdown=args.markdown))
    if args.json:
        data = {
            "command": command_line(args),
            "environment": environment(settings.device),
            "settings": {
                "model": args.model,
                "task": args.task,
                "variants": variants,
                "pairs": list(args.settings),
                **settings.to_dict(),
            },
            "results": results,
        }
        print(f"wrote {atomic_write_json(args.json, data)}")
