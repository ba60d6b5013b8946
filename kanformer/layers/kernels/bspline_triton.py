"""Triton kernels for the per-edge B-spline KANLinear on uniform knots.

    y = base(x) W_b^T + B(x) C^T + b,   x (M, I), W_b (O, I), C (O, I * F), b (O,)

B(x) is the dense (M, I * F) basis of :func:`kanformer.layers.bspline.uniform_basis`:
column j = c * F + f holds N_K((x_c - t0_c) / h_c - f), the cardinal B-spline of order K
(folded truncated powers, zero outside the extended knot range). It is never written to
global memory: every kernel generates its tile of basis values in registers inside the
GEMM's reduction loop.

* forward: one kernel; the reduction runs over the I base columns, then the I * F
  spline columns (contiguous loads of C), accumulating in fp32; bias added at the end.
* dX: dY @ C over a tile of BC channels padded to FP = next_pow2(F) functions each,
  multiplied by the basis derivative in registers and summed over the functions; the
  base branch's dY @ W_b * base'(x) in the same loop.
* dC = dY^T B(x) and dW_b = dY^T base(x): one GEMM kernel (two launches), output
  tiles owned by one program each, so no atomics; db = dY.sum(0) in torch.

Inputs may be fp32, bf16 or fp16; the basis is computed in fp32 and fed to tl.dot in
the weights' dtype, with fp32 accumulation.

The launchers are torch.library custom ops (``kanformer::bspline_linear`` with its autograd
and autocast rules, ``kanformer::bspline_linear_grad_input``, ``..._grad_weight``), so
``torch.compile(fullgraph=True)`` traces a model through them without a graph break.
Import this module only after deciding whether Triton's interpreter (TRITON_INTERPRET=1)
is on: the kernels are built at import.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from . import interpreting

# Base activations by code: "none" has no base branch.
ACT_CODES = {"none": 0, "identity": 1, "silu": 2, "gelu": 3, "gelu_tanh": 4, "relu": 5}
MAX_ORDER = 5
# Triton 3.9's interpreter multiplies bf16 tl.dot operands as raw bits: there, dots run on the
# operands upcast to fp32, which is what the GPU's bf16 MMA computes (exact products, fp32 sums).
_INTERPRET = tl.constexpr(interpreting())


def _configs(kind: str) -> list[triton.Config]:
    if interpreting():  # one config: the interpreter runs every config it is given
        blocks = {"fwd": dict(BM=32, BN=32, BK=32), "dx": dict(BM=32, BO=32, BC=16), "dw": dict(BO=32, BJ=32, BM=32)}
        return [triton.Config(blocks[kind], num_warps=4)]
    if kind == "fwd":
        shapes = [(128, 128, 32, 8, 3), (128, 64, 32, 4, 4), (64, 128, 32, 4, 4), (128, 128, 64, 8, 3)]
        return [triton.Config(dict(BM=m, BN=n, BK=k), num_warps=w, num_stages=s) for m, n, k, w, s in shapes]
    if kind == "dx":
        shapes = [(64, 32, 16, 4, 3), (128, 32, 16, 8, 3), (64, 64, 16, 4, 3), (128, 64, 16, 8, 2)]
        return [triton.Config(dict(BM=m, BO=o, BC=c), num_warps=w, num_stages=s) for m, o, c, w, s in shapes]
    shapes = [(128, 128, 32, 8, 3), (128, 64, 32, 4, 4), (64, 128, 32, 4, 4), (128, 128, 64, 8, 3)]
    return [triton.Config(dict(BO=o, BJ=j, BM=m), num_warps=w, num_stages=s) for o, j, m, w, s in shapes]


@triton.jit
def _binom_signed(K: tl.constexpr, j: tl.constexpr):
    """(-1)^j C(K + 1, j) for j <= 3 (enough for K <= 5)."""
    if j == 0:
        r = 1.0
    elif j == 1:
        r = -(K + 1.0)
    elif j == 2:
        r = (K + 1.0) * K / 2.0
    else:
        r = -(K + 1.0) * K * (K - 1.0) / 6.0
    return r


@triton.jit
def _inv_factorial(n: tl.constexpr):
    if n <= 1:
        r = 1.0
    elif n == 2:
        r = 0.5
    elif n == 3:
        r = 1.0 / 6.0
    elif n == 4:
        r = 1.0 / 24.0
    else:
        r = 1.0 / 120.0
    return r


@triton.jit
def _cardinal(u, K: tl.constexpr, DERIV: tl.constexpr):
    """N_K(u), or dN_K/du with DERIV, elementwise in fp32 (kanformer.layers.bspline.cardinal).

    With w = c - |u - c|, c = (K + 1) / 2: N_K = 1/K! sum_{j <= c} (-1)^j C(K+1, j) (w - j)_+^K.
    """
    c = (K + 1) * 0.5
    a = u - c
    w = c - tl.abs(a)
    acc = tl.zeros_like(u)
    for j in tl.static_range((K + 1) // 2 + 1):
        t = tl.maximum(w - j, 0.0)
        if DERIV:
            if K == 1:
                p = tl.where(w - j > 0.0, 1.0, 0.0)
            else:
                p = t
                for _ in tl.static_range(K - 2):
                    p = p * t
        else:
            p = t
            for _ in tl.static_range(K - 1):
                p = p * t
        acc += _binom_signed(K, j) * p
    if DERIV:
        sign = tl.where(a > 0.0, 1.0, tl.where(a < 0.0, -1.0, 0.0))
        out = acc * sign * (-_inv_factorial(K - 1))
    else:
        out = acc * _inv_factorial(K)
    return out


@triton.jit
def _tanh(z):
    return 2.0 * tl.sigmoid(2.0 * z) - 1.0


@triton.jit
def _act(x, ACT: tl.constexpr):
    """The base activation (ACT_CODES) in fp32."""
    if ACT == 1:
        y = x
    elif ACT == 2:
        y = x * tl.sigmoid(x)
    elif ACT == 3:
        y = 0.5 * x * (1.0 + tl.math.erf(x * 0.7071067811865476))
    elif ACT == 4:
        y = 0.5 * x * (1.0 + _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    else:
        y = tl.maximum(x, 0.0)
    return y


@triton.jit
def _act_grad(x, ACT: tl.constexpr):
    """d base / dx in fp32."""
    if ACT == 1:
        g = tl.full(x.shape, 1.0, tl.float32)
    elif ACT == 2:
        s = tl.sigmoid(x)
        g = s * (1.0 + x * (1.0 - s))
    elif ACT == 3:
        g = 0.5 * (1.0 + tl.math.erf(x * 0.7071067811865476)) + x * 0.3989422804014327 * tl.exp(-0.5 * x * x)
    elif ACT == 4:
        t = _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
        g = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * x * x)
    else:
        g = tl.where(x > 0.0, 1.0, 0.0)
    return g


@triton.jit
def _dot(a, b, IEEE: tl.constexpr):
    if _INTERPRET:
        r = tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    elif IEEE:
        r = tl.dot(a, b, input_precision="ieee")
    else:
        r = tl.dot(a, b)
    return r


@triton.autotune(configs=_configs("fwd"), key=["N_OUT", "N_IN", "NF", "K", "ACT"])
@triton.jit
def _forward_kernel(
    x_ptr, t0_ptr, ih_ptr, wb_ptr, c_ptr, b_ptr, y_ptr,
    M, N_OUT, N_IN, NF, stride_xm, stride_ym,
    K: tl.constexpr, ACT: tl.constexpr, HAS_BIAS: tl.constexpr, IEEE: tl.constexpr,
    BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    mm = rm < M
    mn = rn < N_OUT
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    if ACT != 0:  # base branch: columns are the I inputs
        for k0 in range(0, N_IN, BK):
            rk = k0 + tl.arange(0, BK)
            mk = rk < N_IN
            x = tl.load(x_ptr + rm[:, None] * stride_xm + rk[None, :], mask=mm[:, None] & mk[None, :], other=0.0)
            w = tl.load(wb_ptr + rn[None, :] * N_IN + rk[:, None], mask=mn[None, :] & mk[:, None], other=0.0)
            feat = _act(x.to(tl.float32), ACT)
            acc += _dot(feat.to(w.dtype), w, IEEE)
    KF = N_IN * NF
    for j0 in range(0, KF, BK):  # spline branch: columns j = channel * F + function
        rj = j0 + tl.arange(0, BK)
        mj = rj < KF
        ch = rj // NF
        fn = (rj % NF).to(tl.float32)
        x = tl.load(x_ptr + rm[:, None] * stride_xm + ch[None, :], mask=mm[:, None] & mj[None, :], other=0.0)
        t0 = tl.load(t0_ptr + ch, mask=mj, other=0.0)
        ih = tl.load(ih_ptr + ch, mask=mj, other=1.0)
        u = (x.to(tl.float32) - t0[None, :]) * ih[None, :] - fn[None, :]
        feat = tl.where(mj[None, :], _cardinal(u, K, False), 0.0)
        w = tl.load(c_ptr + rn[None, :] * KF + rj[:, None], mask=mn[None, :] & mj[:, None], other=0.0)
        acc += _dot(feat.to(w.dtype), w, IEEE)
    if HAS_BIAS:
        acc += tl.load(b_ptr + rn, mask=mn, other=0.0).to(tl.float32)[None, :]
    tl.store(
        y_ptr + rm[:, None] * stride_ym + rn[None, :], acc.to(y_ptr.dtype.element_ty), mask=mm[:, None] & mn[None, :]
    )


@triton.autotune(configs=_configs("dx"), key=["N_OUT", "N_IN", "NF", "K", "ACT"])
@triton.jit
def _grad_input_kernel(
    x_ptr, t0_ptr, ih_ptr, wb_ptr, c_ptr, dy_ptr, dx_ptr,
    M, N_OUT, N_IN, NF, stride_xm, stride_dym, stride_dxm,
    K: tl.constexpr, ACT: tl.constexpr, FP: tl.constexpr, IEEE: tl.constexpr,
    BM: tl.constexpr, BO: tl.constexpr, BC: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_c = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rc = pid_c * BC + tl.arange(0, BC)
    mm = rm < M
    mc = rc < N_IN
    # BC channels x FP (>= F) functions, flattened: q = local channel * FP + function.
    q = tl.arange(0, BC * FP)
    chq = pid_c * BC + q // FP
    fq = q % FP
    mq = (chq < N_IN) & (fq < NF)
    jq = chq * NF + fq
    KF = N_IN * NF
    acc_s = tl.zeros((BM, BC * FP), dtype=tl.float32)  # dY @ C on the tile's columns
    acc_b = tl.zeros((BM, BC), dtype=tl.float32)  # dY @ W_b
    for o0 in range(0, N_OUT, BO):
        ro = o0 + tl.arange(0, BO)
        mo = ro < N_OUT
        dy = tl.load(dy_ptr + rm[:, None] * stride_dym + ro[None, :], mask=mm[:, None] & mo[None, :], other=0.0)
        c = tl.load(c_ptr + ro[:, None] * KF + jq[None, :], mask=mo[:, None] & mq[None, :], other=0.0)
        acc_s += _dot(dy, c.to(dy.dtype), IEEE)
        if ACT != 0:
            wb = tl.load(wb_ptr + ro[:, None] * N_IN + rc[None, :], mask=mo[:, None] & mc[None, :], other=0.0)
            acc_b += _dot(dy, wb.to(dy.dtype), IEEE)
    xq = tl.load(x_ptr + rm[:, None] * stride_xm + chq[None, :], mask=mm[:, None] & mq[None, :], other=0.0)
    t0 = tl.load(t0_ptr + chq, mask=mq, other=0.0)
    ih = tl.load(ih_ptr + chq, mask=mq, other=1.0)
    u = (xq.to(tl.float32) - t0[None, :]) * ih[None, :] - fq.to(tl.float32)[None, :]
    d = tl.where(mq[None, :], _cardinal(u, K, True) * ih[None, :], 0.0)
    g = tl.sum(tl.reshape(acc_s * d, (BM, BC, FP)), axis=2)
    if ACT != 0:
        xc = tl.load(x_ptr + rm[:, None] * stride_xm + rc[None, :], mask=mm[:, None] & mc[None, :], other=0.0)
        g += acc_b * _act_grad(xc.to(tl.float32), ACT)
    tl.store(
        dx_ptr + rm[:, None] * stride_dxm + rc[None, :], g.to(dx_ptr.dtype.element_ty), mask=mm[:, None] & mc[None, :]
    )


@triton.autotune(configs=_configs("dw"), key=["N_OUT", "N_IN", "NF", "K", "ACT", "BASE"])
@triton.jit
def _grad_weight_kernel(
    x_ptr, t0_ptr, ih_ptr, dy_ptr, dw_ptr,
    M, N_OUT, N_IN, NF, stride_xm, stride_dym,
    K: tl.constexpr, ACT: tl.constexpr, BASE: tl.constexpr, IEEE: tl.constexpr,
    BO: tl.constexpr, BJ: tl.constexpr, BM: tl.constexpr,
):  # fmt: skip
    """dW[o, j] = sum_m dY[m, o] feature_j(x[m]): base(x_j) with BASE, else the basis column j."""
    pid_o = tl.program_id(0)
    pid_j = tl.program_id(1)
    ro = pid_o * BO + tl.arange(0, BO)
    rj = pid_j * BJ + tl.arange(0, BJ)
    mo = ro < N_OUT
    if BASE:
        J = N_IN
        ch = rj
    else:
        J = N_IN * NF
        ch = rj // NF
    mj = rj < J
    fn = (rj % NF).to(tl.float32)
    t0 = tl.load(t0_ptr + ch, mask=mj, other=0.0)
    ih = tl.load(ih_ptr + ch, mask=mj, other=1.0)
    acc = tl.zeros((BO, BJ), dtype=tl.float32)
    for m0 in range(0, M, BM):
        rm = m0 + tl.arange(0, BM)
        mm = rm < M
        dyt = tl.load(dy_ptr + rm[None, :] * stride_dym + ro[:, None], mask=mo[:, None] & mm[None, :], other=0.0)
        x = tl.load(x_ptr + rm[:, None] * stride_xm + ch[None, :], mask=mm[:, None] & mj[None, :], other=0.0)
        x = x.to(tl.float32)
        if BASE:
            feat = _act(x, ACT)
        else:
            feat = _cardinal((x - t0[None, :]) * ih[None, :] - fn[None, :], K, False)
        feat = tl.where(mm[:, None] & mj[None, :], feat, 0.0)
        acc += _dot(dyt, feat.to(dyt.dtype), IEEE)
    tl.store(dw_ptr + ro[:, None] * J + rj[None, :], acc.to(dw_ptr.dtype.element_ty), mask=mo[:, None] & mj[None, :])


# ------------------------------------------------------------------ launchers as torch ops
# Each launcher is a torch.library custom op with a fake (shape-only) implementation, so that
# torch.compile(fullgraph=True) traces a model through them without a graph break: dynamo and
# AOTAutograd see one opaque op per launch and never the Triton launch machinery. The forward op
# carries its backward (register_autograd) and its autocast rule (_register_autocast).


def _ieee(dtype: torch.dtype) -> bool:
    # fp32 weights: exact fp32 products (no TF32), so results match the torch path.
    return dtype == torch.float32


@torch.library.custom_op("kanformer::bspline_linear", mutates_args=())
def spline_linear(
    x: Tensor, t0: Tensor, inv_h: Tensor, base_weight: Tensor | None, coef: Tensor, bias: Tensor | None,
    order: int, act: int,
) -> Tensor:  # fmt: skip
    """y = base(x) W_b^T + B(x) C^T + b, differentiable in x, W_b, C and b.

    Shapes: x (M, I); t0, inv_h (I,) fp32 (first knot and 1 / spacing per input); base_weight
    (O, I) or None; coef (O, I * F); bias (O,) or None -> y (M, O) in coef's dtype. ``act`` is an
    :data:`ACT_CODES` value, ``order`` the spline order K. Under autocast the weights are cast to
    the autocast dtype (x and the knots are not: the basis is computed in fp32).
    """
    x, coef = x.contiguous(), coef.contiguous()
    m, n_in = x.shape
    n_out = coef.shape[0]
    nf = coef.shape[1] // n_in
    y = torch.empty(m, n_out, device=x.device, dtype=coef.dtype)
    if m == 0:
        return y
    wb = base_weight.contiguous() if base_weight is not None else coef
    b = bias if bias is not None else coef

    def grid(meta: dict) -> tuple[int, int]:
        return triton.cdiv(m, meta["BM"]), triton.cdiv(n_out, meta["BN"])

    _forward_kernel[grid](
        x, t0, inv_h, wb, coef, b, y, m, n_out, n_in, nf, x.stride(0), y.stride(0),
        K=order, ACT=act if base_weight is not None else 0, HAS_BIAS=bias is not None, IEEE=_ieee(coef.dtype),
    )  # fmt: skip
    return y


@spline_linear.register_fake
def _(x, t0, inv_h, base_weight, coef, bias, order, act):  # noqa: ANN001, ANN202
    return x.new_empty(x.shape[0], coef.shape[0], dtype=coef.dtype)


@torch.library.custom_op("kanformer::bspline_linear_grad_input", mutates_args=())
def spline_grad_input(
    x: Tensor, t0: Tensor, inv_h: Tensor, base_weight: Tensor | None, coef: Tensor, grad_out: Tensor,
    order: int, act: int,
) -> Tensor:  # fmt: skip
    """dX (M, I) in x's dtype; grad_out (M, O), other shapes as :func:`spline_linear`."""
    x, coef, grad_out = x.contiguous(), coef.contiguous(), grad_out.contiguous()
    m, n_in = x.shape
    n_out = coef.shape[0]
    nf = coef.shape[1] // n_in
    dx = torch.empty(m, n_in, device=x.device, dtype=x.dtype)
    if m == 0:
        return dx
    wb = base_weight.contiguous() if base_weight is not None else coef

    def grid(meta: dict) -> tuple[int, int]:
        return triton.cdiv(m, meta["BM"]), triton.cdiv(n_in, meta["BC"])

    _grad_input_kernel[grid](
        x, t0, inv_h, wb, coef, grad_out, dx, m, n_out, n_in, nf, x.stride(0), grad_out.stride(0), dx.stride(0),
        K=order, ACT=act if base_weight is not None else 0, FP=triton.next_power_of_2(nf), IEEE=_ieee(grad_out.dtype),
    )  # fmt: skip
    return dx


@spline_grad_input.register_fake
def _(x, t0, inv_h, base_weight, coef, grad_out, order, act):  # noqa: ANN001, ANN202
    return x.new_empty(x.shape)


@torch.library.custom_op("kanformer::bspline_linear_grad_weight", mutates_args=())
def spline_grad_weight(
    x: Tensor, t0: Tensor, inv_h: Tensor, grad_out: Tensor, nf: int, order: int, act: int, base: bool
) -> Tensor:
    """dC (O, I * F), or dW_b (O, I) with ``base``, in grad_out's dtype, fp32 accumulation.

    x (M, I), grad_out (M, O); ``nf`` = F functions per input."""
    x, grad_out = x.contiguous(), grad_out.contiguous()
    m, n_in = x.shape
    n_out = grad_out.shape[1]
    cols = n_in if base else n_in * nf
    if m == 0:
        return grad_out.new_zeros(n_out, cols)
    dw = torch.empty(n_out, cols, device=x.device, dtype=grad_out.dtype)

    def grid(meta: dict) -> tuple[int, int]:
        return triton.cdiv(n_out, meta["BO"]), triton.cdiv(cols, meta["BJ"])

    _grad_weight_kernel[grid](
        x, t0, inv_h, grad_out, dw, m, n_out, n_in, nf, x.stride(0), grad_out.stride(0),
        K=order, ACT=act, BASE=base, IEEE=_ieee(grad_out.dtype),
    )  # fmt: skip
    return dw


@spline_grad_weight.register_fake
def _(x, t0, inv_h, grad_out, nf, order, act, base):  # noqa: ANN001, ANN202
    return grad_out.new_empty(grad_out.shape[1], x.shape[1] if base else x.shape[1] * nf)


def _setup_context(ctx, inputs: tuple, output: Tensor) -> None:  # noqa: ANN001
    # Only x and the weights are saved: backward regenerates the basis in registers.
    x, t0, inv_h, base_weight, coef, bias, order, act = inputs
    ctx.save_for_backward(x, t0, inv_h, base_weight, coef)
    ctx.config = (order, act, bias is not None)


def _backward(ctx, grad_out: Tensor) -> tuple:  # noqa: ANN001
    x, t0, inv_h, base_weight, coef = ctx.saved_tensors
    order, act, has_bias = ctx.config
    grad_out = grad_out.to(coef.dtype)
    nf = coef.shape[1] // x.shape[1]
    need = ctx.needs_input_grad
    dx = dwb = dc = db = None
    if need[0]:
        dx = spline_grad_input(x, t0, inv_h, base_weight, coef, grad_out, order, act)
    if need[3] and base_weight is not None:
        dwb = spline_grad_weight(x, t0, inv_h, grad_out, nf, order, act, True).to(base_weight.dtype)
    if need[4]:
        dc = spline_grad_weight(x, t0, inv_h, grad_out, nf, order, act, False)
    if has_bias and need[5]:
        db = grad_out.float().sum(0).to(coef.dtype)
    return dx, None, None, dwb, dc, db, None, None


spline_linear.register_autograd(_backward, setup_context=_setup_context)


def _register_autocast(lib: torch.library.Library, device_type: str, dispatch_key: str) -> None:
    """Under autocast, run the op with its weights in the autocast dtype (bf16/fp16 tl.dot with fp32
    accumulation). x and the knots keep their dtype: torch.library.register_autocast would cast the
    knots too and move them by up to 2^-8 of their value."""

    def autocast_kernel(x, t0, inv_h, base_weight, coef, bias, order, act):  # noqa: ANN001, ANN202
        dtype = torch.get_autocast_dtype(device_type)

        def cast(t: Tensor | None) -> Tensor | None:
            return t.to(dtype) if t is not None and t.dtype in (torch.float32, torch.float16, torch.bfloat16) else t

        with torch.autocast(device_type, enabled=False):
            return spline_linear(x, t0, inv_h, cast(base_weight), cast(coef), cast(bias), order, act)

    lib.impl("bspline_linear", autocast_kernel, dispatch_key)


_LIB = torch.library.Library("kanformer", "FRAGMENT")  # kept alive: it owns the autocast kernels
for _device_type, _key in (("cpu", "AutocastCPU"), ("cuda", "AutocastCUDA")):
    _register_autocast(_LIB, _device_type, _key)
