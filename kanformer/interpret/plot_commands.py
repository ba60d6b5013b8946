"""``kanformer plot``: draw the learned edge functions of a saved KAN or of a kanified transformer.

    kanformer plot kan.pt --output kan.png                      # a KAN written by KAN.save: network diagram
    kanformer plot runs/kan-bert/model --layer 3 --role down    # a kanified model: grid of its top edges
    kanformer plot minilm init=warm --top 25                    # not kanified yet: kanified first, and said so

:func:`register` adds the subcommand to the ``kanformer`` parser; user errors are
ValueErrors of one line (the CLI prints them and exits with status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

# torch, transformers and matplotlib load inside the functions that draw: `kanformer plot --help` stays fast.

#: what a text model reads when --text is not given: short sentences of everyday English
SENTENCES = (
    "The train to the coast was late again, so we walked along the river instead.",
    "She opened the old wooden box and found a bundle of letters tied with string.",
    "Prices of fresh vegetables rose sharply after the long dry summer.",
    "Could you tell me where the nearest pharmacy is, please?",
    "The committee will publish its final report early next year.",
    "A small dog barked at the delivery van until it drove away.",
    "Learning to play the piano takes patience, practice and a good teacher.",
    "Heavy snow closed the mountain pass for three days in January.",
)
#: input samples drawn for a KAN file, which holds no data of its own
KAN_SAMPLES = 1000
_FILE_SUFFIXES = (".pt", ".pth", ".kan", ".bin", ".ckpt")
_MODEL_ONLY = ("--layer", "--role", "--text", "key=value settings")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``kanformer plot`` to the subcommands ``sub`` of the kanformer parser."""
    p = sub.add_parser(
        "plot",
        help="draw the learned 1-D functions of a KAN file or of a (kanified) transformer's KAN FFN",
        usage="kanformer plot SOURCE [key=value ...] [--layer N] [--role up|down] [--top K] [--text TEXT ...] "
        "[--output FILE.png]",
        description="SOURCE is a KAN saved with KAN.save (drawn as a network diagram: every edge function on "
        "its edge, faded by its importance) or a MODEL: a built-in name, a save_pretrained directory or a Hub "
        "id (drawn as a grid of the most important edges of one layer's KAN FFN, over the inputs that layer "
        "sees on sample sentences). A MODEL that is not kanified is kanified first, with the key=value KAN FFN "
        "settings given or the defaults.",
        epilog="examples: kanformer plot kan.pt --output kan.png; kanformer plot minilm init=warm --layer 2 "
        "--role down --top 25",
    )
    p.add_argument("source", metavar="SOURCE", help="a KAN file (KAN.save) or a MODEL")
    p.add_argument(
        "settings",
        nargs="*",
        metavar="key=value",
        help="KAN FFN settings for a MODEL that is not kanified yet (values read as YAML: init=warm grid_size=7)",
    )
    p.add_argument("--layer", type=int, metavar="N", help="MODEL: the FFN block to draw, 0-based (default 0)")
    p.add_argument(
        "--role",
        choices=["up", "down", "gate"],
        help="MODEL: the projection, up (d -> h) or down (h -> d); gate for gated MLPs (default up)",
    )
    p.add_argument(
        "--top",
        type=int,
        metavar="K",
        help="MODEL: edges drawn (default 16); KAN file: edges drawn per layer (default all, at most 32)",
    )
    p.add_argument(
        "--text",
        nargs="+",
        metavar="TEXT",
        help="MODEL: sentences to run through a text model (default: a few built-in English sentences)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE.png",
        help="the PNG to write (default: <KAN file name>.png or ffn-layer<N>-<role>.png in the current folder)",
    )
    p.set_defaults(func=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> None:
    """Draw SOURCE (a KAN file or a MODEL) and print the path written."""
    output = Path(args.output).expanduser() if args.output else None
    if output is not None:
        if output.suffix.lower() != ".png":
            raise ValueError(f"--output {args.output}: the file name must end in .png")
        if not output.parent.is_dir():
            raise ValueError(f"--output {args.output}: the folder {str(output.parent)!r} does not exist")
    source = Path(args.source).expanduser()
    if not source.exists() and source.suffix.lower() in _FILE_SUFFIXES:
        # Looks like a KAN file: say so rather than look it up on the Hugging Face Hub as a model name.
        raise ValueError(f"{args.source!r} does not exist: SOURCE is a KAN file (KAN.save) or a MODEL")
    try:
        if source.is_file():
            path = _plot_kan_file(source, output, args)
        else:
            path = _plot_model(args.source, output, args)
    except OSError as err:  # transformers' messages can span lines: keep one
        raise ValueError(" ".join(str(err).split())) from None
    print(f"wrote {path}")


def _plot_kan_file(source: Path, output: Path | None, args: argparse.Namespace) -> Path:
    from ..layers import KAN
    from .plot import plot_kan

    given = [args.layer is not None, args.role is not None, bool(args.text), bool(args.settings)]
    misused = [name for name, g in zip(_MODEL_ONLY, given, strict=True) if g]
    if misused:
        raise ValueError(f"{', '.join(misused)} apply to transformer models; {str(source)!r} is a file (a saved KAN)")
    kan = KAN.load(source)
    output = output or Path(source.stem + ".png")
    if output.resolve() == source.resolve():
        raise ValueError(f"--output {output} would overwrite the KAN file itself; choose another name")
    print(
        f"inputs: {KAN_SAMPLES} uniform samples over the first layer's grid (a KAN file holds no data)",
        file=sys.stderr,
    )
    return plot_kan(kan, grid_samples(kan, KAN_SAMPLES), output, top=args.top)


def grid_samples(kan: Any, n: int, seed: int = 0) -> Tensor:
    """(n, widths[0]) inputs drawn uniformly over the range the first layer's grid covers.

    A B-spline grid fitted with update_grid spans the training inputs (plus 1%), so this is
    where the learned functions mean something; other bases use their ``grid_range``.
    """
    import torch

    from ..layers.basis.bspline import BSplineBasis
    from ..layers.knots import interior

    first = kan.layers[0]
    basis = first.basis
    if isinstance(basis, BSplineBasis):
        grid = basis.expand_rows(interior(basis.knots, basis.spline_order)).float().cpu()  # (I, G + 1)
        lo, hi = grid[:, 0], grid[:, -1]
    else:
        low, high = (float(v) for v in kan.layer_kwargs.get("grid_range", (-1.0, 1.0)))
        lo, hi = torch.full((first.in_features,), low), torch.full((first.in_features,), high)
    u = torch.rand(n, first.in_features, generator=torch.Generator().manual_seed(seed))
    return (lo + u * (hi - lo)).to(next(kan.parameters()))


def _plot_model(name: str, output: Path | None, args: argparse.Namespace) -> Path:
    from ..models import load_model
    from ..plugin import KANFFNConfig, kanify
    from ..settings import parse_settings
    from .plot import plot_ffn_edges

    settings = parse_settings(KANFFNConfig, None, args.settings)
    model = load_model(name)
    data = model_data(name, model, args.text)
    if getattr(model.config, "kanformer", None):
        if settings is not None:
            raise ValueError(f"{name!r} is already kanified: key=value settings only apply to a model that is not")
    else:
        cfg = settings or KANFFNConfig()
        needs_data = cfg.init == "distill" or cfg.calibrate != "none"
        kanify(model, cfg, data=data if needs_data else None)
        how = "the given" if settings is not None else "the default"
        note = " (init=scratch: the edge functions are random, not learned)" if cfg.init == "scratch" else ""
        print(f"note: {name!r} is not kanified; kanified it with {how} KAN FFN settings{note}", file=sys.stderr)
    layer = 0 if args.layer is None else args.layer
    role = args.role or "up"
    top = 16 if args.top is None else args.top
    return plot_ffn_edges(model, layer, data, output or Path(f"ffn-layer{layer}-{role}.png"), top=top, role=role)


def model_data(name: str, model: Any, texts: list[str] | None = None) -> list[dict[str, Tensor]]:
    """Batches of inputs for MODEL ``name``: tokenised sentences (one batch each, no padding) for
    text models with a tokenizer, else :func:`~kanformer.models.sample_inputs` (random ids or images)."""
    from ..models import is_vision, load_processor, sample_inputs

    if is_vision(model):
        if texts:
            raise ValueError(f"--text applies to text models; {name!r} takes images")
        print("inputs: random images (no image data is built in)", file=sys.stderr)
        return [sample_inputs(model, batch_size=8)]
    try:
        tokenizer = load_processor(name, model)
    except (OSError, ValueError) as err:
        reason = " ".join(str(err).split())[:160]
        if texts:
            raise ValueError(f"--text needs the tokenizer of {name!r}, which could not be loaded: {reason}") from None
        print(f"inputs: random token ids ({name!r} has no tokenizer here: {reason})", file=sys.stderr)
        return [sample_inputs(model, batch_size=4)]
    config = model.config
    max_pos = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 514
    device = next(model.parameters()).device
    # One sentence per batch: no padding rows to feed the FFN.
    return [
        {k: v.to(device) for k, v in tokenizer(t, return_tensors="pt", truncation=True, max_length=max_pos - 2).items()}
        for t in (texts or SENTENCES)
    ]
