"""init="distill": carry a pretrained model's FFNs into new KAN FFNs of any width.

A KAN FFN at the MLP's parameter count is much narrower than the MLP (MiniLM: 170 vs
1536 hidden units), so it cannot start as the MLP; it is fitted to it instead, in two
stages (:func:`distill_ffns`):

1. **Layer by layer, bottom-up.** The inputs of block i's FFN are captured from the
   model in which blocks below i are already replaced and fitted, so each KAN FFN
   learns on the inputs it will actually see and can absorb the error of the layers
   below; padding tokens are excluded. The target is the original FFN on those inputs.
   Each fit starts from the h most important hidden units of the MLP (the warm layout:
   the up layer's base branch carries their rows of W1, the down layer's base branch
   the model's activation and their columns of W2), puts the B-spline grids on the
   range of the inputs, solves the down layer by least squares (a KAN layer is linear
   in its parameters), then trains both layers with Adam on mini-batches of rows,
   keeping the parameters with the best held-out error (early stop).
2. **End to end** (``distill_e2e_steps`` > 0): all new FFNs together, so that every
   layer's hidden states match the original model's (masked, variance-normalised MSE).
   Layer-wise fits ignore how errors compound through attention; this stage does not.

The per-layer held-out R^2 is returned (kanify records it in ``config.kanformer``).
"""

from __future__ import annotations

import contextlib
import itertools
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..layers import KANLinear
from ..layers.basis.bspline import BSplineBasis
from .adapters import FFNAdapter, linear_params, set_path

Batch = Mapping[str, Tensor]


class _Captured(Exception):
    """Raised by a capture hook to end a forward pass early (the layers above are not needed)."""


def token_rows(hidden: Tensor, mask: Tensor | None) -> Tensor:
    """Rows of real tokens: hidden (..., T, d) with mask (..., T) -> (S, d); no mask: every row."""
    if mask is not None and tuple(mask.shape) == tuple(hidden.shape[:-1]):
        return hidden[mask.bool()]
    return hidden.reshape(-1, hidden.shape[-1])


def reiterable(data: Iterable[Batch]) -> Iterable[Batch]:
    """``data`` if it can be iterated again (a list, a DataLoader), else its batches as a list."""
    return list(data) if iter(data) is data else data


def capture_inputs(model: nn.Module, module: nn.Module, data: Iterable[Batch], max_rows: int) -> Tensor:
    """Inputs (S, d) of ``module`` over real tokens of ``data``, S <= max_rows.

    Batches are streamed: each forward pass stops at ``module`` and only its non-padding
    input rows are kept (``attention_mask`` of the batch), until ``max_rows`` are held.
    """
    rows: list[Tensor] = []
    count = 0
    mask: Tensor | None = None

    def hook(_m: nn.Module, args: tuple) -> None:
        rows.append(token_rows(args[0].detach(), mask).float())
        raise _Captured

    handle = module.register_forward_pre_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in data:
                mask = batch.get("attention_mask")
                with contextlib.suppress(_Captured):
                    model(**batch)
                count += rows[-1].shape[0] if rows else 0
                if count >= max_rows:
                    break
    finally:
        handle.remove()
        model.train(was_training)
    if not rows or count == 0:
        raise ValueError("distillation/calibration data is empty: pass at least one batch of model inputs")
    return torch.cat(rows)[:max_rows]


@dataclass
class Teacher:
    """The original FFN of one block: its projections by role and its activation module."""

    projections: dict[str, nn.Module]
    act: nn.Module
    gated: bool

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        """(S, d) -> (S, d): the original FFN map (no dropout, no residual)."""
        return self.projections["down"](self._hidden(x)).float()

    @torch.no_grad()
    def hidden(self, x: Tensor) -> Tensor:
        """(S, d) -> (S, h): the hidden activations (what the down projection sees)."""
        return self._hidden(x).float()

    def _hidden(self, x: Tensor) -> Tensor:
        p = self.projections
        x = x.to(linear_params(p["up"])[0].dtype)
        return self.act(p["gate"](x)) * p["up"](x) if self.gated else self.act(p["up"](x))


@dataclass
class DistillSettings:
    """How hard to fit (kanify takes them from KANFFNConfig)."""

    rows: int = 16384
    steps: int = 300
    batch_rows: int = 2048
    lr: float = 3e-3
    e2e_steps: int = 0
    e2e_lr: float = 1e-4
    patience: int = 5
    seed: int = 0


@dataclass
class DistillReport:
    """What distillation achieved: held-out R^2 per distilled layer, seconds, end-to-end losses."""

    r2: list[float] = field(default_factory=list)
    seconds: float = 0.0
    e2e_loss: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- start
def _unit_importance(teacher: Teacher, x: Tensor) -> Tensor:
    """(h0,) importance of each hidden unit: RMS activation times the norm of its W2 column."""
    h = teacher.hidden(x)
    w2, _ = linear_params(teacher.projections["down"])
    return h.pow(2).mean(0).sqrt() * w2.float().norm(dim=0)


@torch.no_grad()
def prune_start(new: dict[str, KANLinear], teacher: Teacher, x: Tensor) -> None:
    """Load the h most important hidden units of the MLP into a warm-layout KAN FFN."""
    h = new["down"].in_features
    keep = _unit_importance(teacher, x).topk(h).indices.sort().values
    for role, layer in new.items():
        w, b = linear_params(teacher.projections[role])
        if role == "down":
            w_new, b_new = w[:, keep], b
        else:
            w_new, b_new = w[keep], (b[keep] if b is not None else None)
        target = layer.base_weight if layer.sharing == "edge" else layer.weight
        target.copy_(w_new)
        if layer.sharing == "edge":
            layer.spline_weight.zero_()
        if layer.bias is not None:
            layer.bias.copy_(b_new if b_new is not None else torch.zeros_like(layer.bias))


def fit_grids(new: dict[str, KANLinear], forward_hidden: Callable[[Tensor], Tensor], x: Tensor) -> None:
    """Put each B-spline layer's uniform grid on the range of the inputs it sees (pykan's update_grid, eps=1)."""
    with torch.no_grad():
        for role, layer in new.items():
            if isinstance(layer.basis, BSplineBasis):
                layer.update_grid(forward_hidden(x) if role == "down" else x, 1.0)


def _features(layer: KANLinear, x: Tensor) -> Tensor:
    """(N, in) -> (N, P): the columns a KAN layer's output is linear in (bias excluded)."""
    xb = x.float()
    if layer.sharing == "group":
        return layer.activation(xb)
    cols = [layer.basis(xb).flatten(1)]
    if layer.base_weight is not None:
        cols.insert(0, layer._act(xb))
    return torch.cat(cols, 1)


@torch.no_grad()
def solve_layer(layer: KANLinear, x: Tensor, y: Tensor, ridge: float = 1e-3) -> None:
    """Least-squares fit of a KAN layer's weights for y (N, out) ~ layer(x (N, in)), ridge-regularised."""
    feats = _features(layer, x).double()
    n_base = layer.in_features if layer.sharing == "group" or layer.base_weight is not None else 0
    if layer.bias is not None:
        feats = torch.cat([feats, torch.ones_like(feats[:, :1])], 1)
    gram = feats.T @ feats
    diag = gram.diagonal()
    # The spline coefficients are the extra capacity (more columns than a layer has rows, often):
    # they are shrunk at the scale of their own columns; base weights and bias hardly (they can be
    # 100x smaller than basis columns, and a warm start is exact in them).
    penalty = diag * 1e-8
    if layer.sharing == "edge" and diag.shape[0] > n_base:
        spline = slice(n_base, n_base + layer.spline_weight[0].numel())
        penalty[spline] = ridge * diag[spline].mean()
    gram = gram + torch.diag(penalty + 1e-30)
    sol = torch.linalg.solve(gram, feats.T @ y.double()).T  # (out, P [+1])
    if layer.bias is not None:
        layer.bias.copy_(sol[:, -1])
        sol = sol[:, :-1]
    if layer.sharing == "group":
        layer.weight.copy_(sol)
        return
    if n_base:
        layer.base_weight.copy_(sol[:, :n_base])
    layer.spline_weight.copy_(sol[:, n_base:].reshape(layer.spline_weight.shape))


# --------------------------------------------------------------------------- stage 1
def _ffn(new: dict[str, KANLinear], act: nn.Module | None, x: Tensor) -> Tensor:
    """(S, d) -> (S, d) through the new FFN."""
    return new["down"](new_hidden(new, act, x))


def new_hidden(new: dict[str, KANLinear], act: nn.Module | None, x: Tensor) -> Tensor:
    """(S, d) -> (S, h): what the new down layer sees (gated blocks keep act(gate) * up; ``act`` only for them)."""
    h = new["up"](x)
    return act(new["gate"](x)) * h if "gate" in new else h


def fit_block(
    new: dict[str, KANLinear], act: nn.Module | None, x: Tensor, y: Tensor, settings: DistillSettings
) -> float:
    """Fit the new FFN to y (S, d) on x (S, d); returns the held-out R^2 of the kept parameters.

    A fifth of the rows is held out. Adam runs on mini-batches of ``batch_rows`` rows and is
    stopped when the held-out error has not improved for ``patience`` checks; the best
    parameters seen are kept, so the result is never worse than the least-squares start.
    """
    gen = torch.Generator().manual_seed(settings.seed)
    perm = torch.randperm(x.shape[0], generator=gen)
    n_val = max(1, x.shape[0] // 5)
    val, fit = perm[:n_val], perm[n_val:]
    xf, yf, xv, yv = x[fit], y[fit], x[val], y[val]
    sst = float((yv - yf.mean(0)).pow(2).sum())
    params = [p for layer in new.values() for p in layer.parameters()]
    states = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)

    def val_sse() -> float:
        with torch.no_grad():
            return sum(
                float((_ffn(new, act, xv[i : i + 8192]) - yv[i : i + 8192]).pow(2).sum())
                for i in range(0, xv.shape[0], 8192)
            )

    with torch.no_grad():
        solve_layer(new["down"], new_hidden(new, act, xf), yf)
    best, best_state = val_sse(), [p.detach().clone() for p in params]
    # Adam's steps are absolute: scale the learning rate to the weights' own size per tensor.
    opt = torch.optim.Adam(params, lr=settings.lr)
    scale = float(yf.pow(2).mean().sqrt())
    check, stale = max(1, settings.steps // 30), 0
    for step in range(1, settings.steps + 1):
        idx = torch.randint(0, xf.shape[0], (min(settings.batch_rows, xf.shape[0]),), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = (_ffn(new, act, xf[idx]) - yf[idx]).pow(2).mean() / (scale * scale)
        loss.backward()
        opt.step()
        if step % check == 0 or step == settings.steps:
            sse = val_sse()
            if sse < best:
                best, best_state, stale = sse, [p.detach().clone() for p in params], 0
            else:
                stale += 1
                if stale >= settings.patience:
                    break
    with torch.no_grad():
        for p, b, s in zip(params, best_state, states, strict=True):
            p.copy_(b)
            p.requires_grad_(s)
    return 1 - best / sst if sst > 0 else 0.0


# --------------------------------------------------------------------------- stage 2
@contextlib.contextmanager
def original_ffns(blocks: list[nn.Module], paths: list[dict[str, nn.Module]]) -> Iterator[None]:
    """Temporarily put the original modules back at their paths (path -> module per block)."""
    current = [{p: b.get_submodule(p) for p in swap} for b, swap in zip(blocks, paths, strict=True)]
    try:
        for b, swap in zip(blocks, paths, strict=True):
            for p, m in swap.items():
                set_path(b, p, m)
        yield
    finally:
        for b, swap in zip(blocks, current, strict=True):
            for p, m in swap.items():
                set_path(b, p, m)


def _masked_mse(a: Tensor, b: Tensor, mask: Tensor | None) -> Tensor:
    diff = (a.float() - b.float()).pow(2).mean(-1)  # (..., T)
    if mask is not None and tuple(mask.shape) == tuple(diff.shape):
        m = mask.to(diff.dtype)
        return (diff * m).sum() / m.sum().clamp_min(1)
    return diff.mean()


def end_to_end(
    model: nn.Module,
    blocks: list[nn.Module],
    originals: list[dict[str, nn.Module]],
    first_layer: int,
    data: Iterable[Batch],
    settings: DistillSettings,
) -> list[float]:
    """Train every KAN parameter so all hidden states above ``first_layer`` match the original model's.

    Returns the loss (mean over layers of the variance-normalised masked MSE) per step.
    """
    kan = [p for m in model.modules() if isinstance(m, KANLinear) for p in m.parameters()]
    kan_ids = {id(p) for p in kan}
    states = {id(p): p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in kan_ids)
    opt = torch.optim.Adam(kan, lr=settings.e2e_lr)
    was_training = model.training
    model.eval()
    losses = []
    try:
        batches = itertools.cycle(data) if isinstance(data, list) else _forever(data)
        for _ in range(settings.e2e_steps):
            batch = next(batches)
            mask = batch.get("attention_mask")
            with torch.no_grad(), original_ffns(blocks, originals):
                target = model(**batch, output_hidden_states=True).hidden_states[first_layer + 1 :]
            out = model(**batch, output_hidden_states=True).hidden_states[first_layer + 1 :]
            loss = sum(
                _masked_mse(s, t, mask) / t.float().var().clamp_min(1e-12) for s, t in zip(out, target, strict=True)
            ) / len(out)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    finally:
        for p in model.parameters():
            p.requires_grad_(states[id(p)])
        model.train(was_training)
    return losses


def _forever(data: Iterable[Batch]) -> Iterator[Batch]:
    while True:
        yield from data


# --------------------------------------------------------------------------- both
def distill_ffns(
    model: nn.Module,
    adapter: FFNAdapter,
    blocks: list[nn.Module],
    selected: list[int],
    installed: list[dict[str, KANLinear]],
    teachers: list[Teacher],
    data: Iterable[Batch],
    settings: DistillSettings,
) -> DistillReport:
    """Fit the installed KAN FFNs (warm layout) to the original ones; see the module docstring.

    Args:
        blocks: every FFN block of the model, in layer order.
        selected: indices into ``blocks`` of the replaced ones; ``installed`` and
            ``teachers`` are aligned with it.
        data: re-iterable batches of model inputs (with ``attention_mask`` for text).
    """
    start = time.perf_counter()
    data = reiterable(data)
    report = DistillReport()
    for i, new, teacher in zip(selected, installed, teachers, strict=True):
        act = blocks[i].get_submodule(adapter.act) if adapter.gated else None
        x = capture_inputs(model, new["up"], data, settings.rows)
        prune_start(new, teacher, x)
        fit_grids(new, lambda v, new=new, act=act: new_hidden(new, act, v), x)
        r2 = fit_block(new, act, x, teacher(x), settings)
        report.r2.append(round(r2, 4))
        if r2 < 0:
            warnings.warn(
                f"distillation of layer {i} reached a held-out R^2 of {r2:.3f} (< 0: worse than a constant); "
                "give it more data (rows) or steps, or a wider hidden size",
                stacklevel=3,
            )
    if settings.e2e_steps > 0:
        originals = [
            {**{adapter.projections[r]: m for r, m in t.projections.items()}, **_act_path(adapter, t)} for t in teachers
        ]
        report.e2e_loss = end_to_end(model, [blocks[i] for i in selected], originals, selected[0], data, settings)
    report.seconds = round(time.perf_counter() - start, 1)
    return report


def _act_path(adapter: FFNAdapter, teacher: Teacher) -> dict[str, nn.Module]:
    # Non-gated blocks lose their activation module on kanify (the KAN carries it): restore it too.
    return {} if adapter.gated else {adapter.act: teacher.act}


__all__ = [
    "DistillReport",
    "DistillSettings",
    "Teacher",
    "capture_inputs",
    "distill_ffns",
    "end_to_end",
    "fit_block",
    "new_hidden",
    "original_ffns",
    "prune_start",
    "reiterable",
    "solve_layer",
    "token_rows",
]
