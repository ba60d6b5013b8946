"""Triton kernels for KAT's group-rational unit (the grkan activation), forward and backward.

    y[:, c] = P_g(x[:, c]) / Q_g(x[:, c]),   g = c // (C / G),
    P_g(x) = sum_{i=0..m} a[g, i] x^i,   Q_g(x) = 1 + sum_{i=1..n} |b[g, i-1]| |x|^i

the same safe Padé unit as the torch path (:func:`kanformer.layers.basis.rational._units`), in
fp32 whatever the input dtype. Every program works on one tile of rows x channels inside one
channel group, so the group's m + 1 + n coefficients are scalars of that program.

* forward: elementwise, P and Q by Horner's rule in registers; y in x's dtype.
* backward: one pass recomputes P, P', Q, Q' and writes dX; the coefficient gradients
  (sums over tokens and the group's channels of x^i / Q and -y |x|^i / Q, times the output
  gradient) are reduced in registers over all of the program's tiles and written once per
  coefficient per program to a small partial-sum buffer (programs, m + 1 + n), which torch
  sums. That is FlashKAT's per-tile reduction (one write per coefficient per program instead
  of KAT's atomics per element) with no atomics at all: the gradients are deterministic, and
  autotuning may rerun the kernel safely.

x may be fp32, bf16 or fp16; all arithmetic and sums are fp32. The launchers are torch.library
custom ops (``kanformer::group_rational`` with its autograd, ``kanformer::group_rational_backward``),
so ``torch.compile(fullgraph=True)`` traces through them without a graph break. Under autocast
nothing is cast (the Autocast keys fall through to the op): x keeps its dtype, the
coefficients keep theirs, and the unit computes in fp32 as always. Import this module only
after deciding whether Triton's interpreter (TRITON_INTERPRET=1) is on: the kernels are built
at import.
"""

from __future__ import annotations

from functools import cache

import torch
import triton
import triton.language as tl
from torch import Tensor

from . import check_triton, interpreting

# Channel tiles are 16..128 wide; row tiles TILE // BC high. A program of the backward pass loops
# over ROWS rows, a multiple of _ROW_ALIGN (>= any row tile, so only a program's last tile is ragged).
_MIN_BC, _MAX_BC = 16, 128
_ROW_ALIGN = 16 if interpreting() else 256


def _configs(kind: str) -> list[triton.Config]:
    if interpreting():  # one small config: the interpreter runs every config it is given
        return [triton.Config({"TILE": 256}, num_warps=4)]
    # Two configs each: the kernels are memory-bound and every config is compiled per specialisation.
    if kind == "fwd":
        shapes = [(2048, 4), (8192, 8)]
    else:  # backward keeps about ten live tiles per element: fewer elements per thread
        shapes = [(1024, 4), (4096, 8)]
    return [triton.Config({"TILE": t}, num_warps=w) for t, w in shapes]


@triton.jit
def _numerator(x, a_ptr, M_DEG: tl.constexpr):
    """P(x) = sum_i a_i x^i by Horner's rule (the torch path's order), fp32."""
    p = tl.zeros_like(x) + tl.load(a_ptr + M_DEG).to(tl.float32)
    for j in tl.static_range(M_DEG):
        p = p * x + tl.load(a_ptr + (M_DEG - 1 - j)).to(tl.float32)
    return p


@triton.jit
def _denominator(ax, b_ptr, N_DEG: tl.constexpr):
    """Q(|x|) = 1 + sum_{i>=1} |b_i| |x|^i by Horner's rule (the torch path's order), fp32."""
    q = tl.zeros_like(ax)
    for j in tl.static_range(N_DEG):
        q = (q + tl.abs(tl.load(b_ptr + (N_DEG - 1 - j)).to(tl.float32))) * ax
    return q + 1.0


@triton.jit
def _tile(pid_c, D, C, BC: tl.constexpr):
    """Group g of column program pid_c, and its channels: (g, column offsets (BC,), mask (BC,))."""
    blocks = tl.cdiv(D, BC)
    g = pid_c // blocks
    rc = (pid_c % blocks) * BC + tl.arange(0, BC)
    return g, g * D + rc, rc < D


@triton.autotune(configs=_configs("fwd"), key=["D", "M_DEG", "N_DEG", "BC"])
@triton.jit
def _forward_kernel(
    x_ptr, a_ptr, b_ptr, y_ptr, N, C, D,
    M_DEG: tl.constexpr, N_DEG: tl.constexpr, BC: tl.constexpr, TILE: tl.constexpr,
):  # fmt: skip
    BN: tl.constexpr = TILE // BC
    g, cols, mc = _tile(tl.program_id(1), D, C, BC)
    rn = tl.program_id(0) * BN + tl.arange(0, BN)
    mask = (rn < N)[:, None] & mc[None, :]
    offs = rn.to(tl.int64)[:, None] * C + cols[None, :]
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    p = _numerator(x, a_ptr + g * (M_DEG + 1), M_DEG)
    q = _denominator(tl.abs(x), b_ptr + g * N_DEG, N_DEG)
    tl.store(y_ptr + offs, (p / q).to(y_ptr.dtype.element_ty), mask=mask)


@triton.autotune(configs=_configs("bwd"), key=["D", "M_DEG", "N_DEG", "BC"])
@triton.jit
def _backward_kernel(
    x_ptr, dy_ptr, a_ptr, b_ptr, dx_ptr, part_ptr, N, C, D, ROWS,
    M_DEG: tl.constexpr, N_DEG: tl.constexpr, NCP: tl.constexpr, BC: tl.constexpr, TILE: tl.constexpr,
):  # fmt: skip
    """dX, and per program the sums over its ROWS x BC tile of dY x^i / Q (i = 0..m) and
    -dY y |x|^i / Q (i = 1..n), written to part_ptr[program, 0 .. m + n] (NCP >= m + n + 1)."""
    BN: tl.constexpr = TILE // BC
    pid_r = tl.program_id(0)
    pid_c = tl.program_id(1)
    g, cols, mc = _tile(pid_c, D, C, BC)
    a_g = a_ptr + g * (M_DEG + 1)
    b_g = b_ptr + g * N_DEG
    slot = tl.arange(0, NCP)
    sums = tl.zeros((NCP,), dtype=tl.float32)
    row_end = tl.minimum(pid_r * ROWS + ROWS, N)
    for r0 in range(pid_r * ROWS, row_end, BN):
        rn = r0 + tl.arange(0, BN)
        mask = (rn < row_end)[:, None] & mc[None, :]
        offs = rn.to(tl.int64)[:, None] * C + cols[None, :]
        x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + offs, mask=mask, other=0.0).to(tl.float32)  # 0 off the tile: no sums there
        ax = tl.abs(x)
        # P and P' together by Horner's rule; Q as in the forward pass, Q' = sign(x) sum i |b_i| |x|^(i-1).
        p = tl.zeros_like(x) + tl.load(a_g + M_DEG).to(tl.float32)
        dp = tl.zeros_like(x)
        for j in tl.static_range(M_DEG):
            dp = dp * x + p
            p = p * x + tl.load(a_g + (M_DEG - 1 - j)).to(tl.float32)
        q = _denominator(ax, b_g, N_DEG)
        dq = tl.zeros_like(x)
        for j in tl.static_range(N_DEG):
            dq = dq * ax + (N_DEG - j) * tl.abs(tl.load(b_g + (N_DEG - 1 - j)).to(tl.float32))
        y = p / q
        r = dy / q
        sign = tl.where(x > 0.0, 1.0, tl.where(x < 0.0, -1.0, 0.0))
        tl.store(dx_ptr + offs, (r * (dp - y * dq * sign)).to(dx_ptr.dtype.element_ty), mask=mask)
        t = r  # dy/da_i = x^i / Q
        for i in tl.static_range(M_DEG + 1):
            sums += tl.where(slot == i, tl.sum(t), 0.0)
            t = t * x
        t = -r * y  # dy/d|b_i| = -y |x|^i / Q
        for i in tl.static_range(N_DEG):
            t = t * ax
            sums += tl.where(slot == M_DEG + 1 + i, tl.sum(t), 0.0)
    program = pid_r * tl.num_programs(1) + pid_c
    tl.store(part_ptr + program * NCP + slot, sums)


# ------------------------------------------------------------------ launchers as torch ops
# torch.library custom ops with fake (shape-only) implementations: torch.compile(fullgraph=True)
# sees one opaque op per launch, never the Triton launch machinery.


def _channel_block(d: int) -> int:
    return max(_MIN_BC, min(_MAX_BC, triton.next_power_of_2(d)))


@cache
def _target_programs(device: torch.device) -> int:
    """About how many programs the backward pass launches: enough to fill the GPU a few times over,
    few enough that each reduces many tiles before writing its sums."""
    if device.type != "cuda":
        return 4  # the interpreter: a few programs, so tests cover the cross-program sum
    return 8 * torch.cuda.get_device_properties(device).multi_processor_count


def _check_shapes(x: Tensor, numerator: Tensor, denominator: Tensor) -> None:
    groups = numerator.shape[0]
    if numerator.dim() != 2 or denominator.dim() != 2 or denominator.shape[0] != groups:
        raise ValueError(
            f"group_rational needs numerator (G, m + 1) and denominator (G, n), got {tuple(numerator.shape)} "
            f"and {tuple(denominator.shape)}"
        )
    if x.dim() == 0 or groups == 0 or x.shape[-1] % groups:
        raise ValueError(f"group_rational: {groups} groups must divide the channels of x {tuple(x.shape)}")


@torch.library.custom_op("kanformer::group_rational", mutates_args=())
def group_rational(x: Tensor, numerator: Tensor, denominator: Tensor) -> Tensor:
    """KAT's group-rational unit P(x) / Q(x) on every channel, differentiable in all three inputs.

    Shapes: x (..., C) fp32/bf16/fp16; numerator (G, m + 1) = a_0..a_m and denominator (G, n) =
    b_1..b_n per group (any float dtype), G dividing C, contiguous blocks of C / G channels sharing
    a unit -> y (..., C) in x's dtype, computed in fp32. Runs on CUDA tensors, or on CPU tensors
    under Triton's interpreter. Backward saves only x (and the coefficients).
    """
    check_triton(x.device)
    _check_shapes(x, numerator, denominator)
    c = x.shape[-1]
    x2 = x.reshape(-1, c).contiguous()
    a, b = numerator.contiguous(), denominator.contiguous()
    y = torch.empty(x2.shape, device=x.device, dtype=x.dtype)
    n_rows, groups = x2.shape[0], a.shape[0]
    if n_rows == 0:
        return y.view(x.shape)
    d, bc = c // groups, _channel_block(c // groups)

    def grid(meta: dict) -> tuple[int, int]:
        return triton.cdiv(n_rows, meta["TILE"] // bc), groups * triton.cdiv(d, bc)

    _forward_kernel[grid](
        x2, a, b if b.numel() else a, y, n_rows, c, d, M_DEG=a.shape[1] - 1, N_DEG=b.shape[1], BC=bc
    )  # fmt: skip
    return y.view(x.shape)


@group_rational.register_fake
def _(x, numerator, denominator):  # noqa: ANN001, ANN202
    return x.new_empty(x.shape)


@torch.library.custom_op("kanformer::group_rational_backward", mutates_args=())
def group_rational_backward(
    x: Tensor, numerator: Tensor, denominator: Tensor, grad: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of sum(grad * group_rational(x, numerator, denominator)).

    Shapes as :func:`group_rational`, grad (..., C) -> (dx (..., C) in x's dtype, d numerator
    (G, m + 1), d denominator (G, n) in the coefficients' dtypes), all summed in fp32. At b_i = 0
    the denominator's gradient is 0, as for the torch path (through |b_i|).
    """
    check_triton(x.device)
    _check_shapes(x, numerator, denominator)
    c = x.shape[-1]
    x2, g2 = x.reshape(-1, c).contiguous(), grad.reshape(-1, c).contiguous()
    a, b = numerator.contiguous(), denominator.contiguous()
    n_rows, groups, n_num, n_den = x2.shape[0], a.shape[0], a.shape[1], b.shape[1]
    dx = torch.empty(x2.shape, device=x.device, dtype=x.dtype)
    if n_rows == 0:
        return dx.view(x.shape), torch.zeros_like(numerator), torch.zeros_like(denominator)
    d, bc = c // groups, _channel_block(c // groups)
    col_programs = groups * triton.cdiv(d, bc)
    per_program = triton.cdiv(n_rows, max(1, _target_programs(x.device) // col_programs))
    rows = triton.cdiv(per_program, _ROW_ALIGN) * _ROW_ALIGN
    row_programs = triton.cdiv(n_rows, rows)
    ncp = triton.next_power_of_2(n_num + n_den)
    partial = torch.empty(row_programs, groups, col_programs // groups, ncp, device=x.device, dtype=torch.float32)
    _backward_kernel[(row_programs, col_programs)](
        x2, g2, a, b if b.numel() else a, dx, partial, n_rows, c, d, rows,
        M_DEG=n_num - 1, N_DEG=n_den, NCP=ncp, BC=bc,
    )  # fmt: skip
    sums = partial.sum((0, 2))  # (G, NCP): the programs' sums, in a fixed order
    grad_a = sums[:, :n_num].to(numerator.dtype).contiguous()
    grad_b = (sums[:, n_num : n_num + n_den] * b.sign()).to(denominator.dtype)
    return dx.view(x.shape), grad_a, grad_b


@group_rational_backward.register_fake
def _(x, numerator, denominator, grad):  # noqa: ANN001, ANN202
    return x.new_empty(x.shape), numerator.new_empty(numerator.shape), denominator.new_empty(denominator.shape)


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:  # noqa: ANN001
    # Only x and the coefficients are saved: backward recomputes P and Q in registers.
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad: Tensor) -> tuple:  # noqa: ANN001
    x, a, b = ctx.saved_tensors
    dx, da, db = group_rational_backward(x, a, b, grad)
    need = ctx.needs_input_grad
    return dx if need[0] else None, da if need[1] else None, db if need[2] else None


group_rational.register_autograd(_backward, setup_context=_setup_context)
