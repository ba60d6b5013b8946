"""Build Triton kernels for sm_90 (Triton -> PTX -> cubin with the bundled ptxas) without a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_HEADER = """
import os
os.environ.pop("TRITON_INTERPRET", None)
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
"""

_BUILD = """
for kern, sig, consts in kernels:
    sig = {{**sig, **{{k: "constexpr" for k in consts}}}}
    src = ASTSource(fn=kern.fn, signature=sig, constexprs=consts)
    out = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={{"num_warps": {num_warps}, "num_stages": 3}})
    assert "cubin" in out.asm, kern.fn.__name__
print("compiled")
"""


def assert_builds_for_hopper(kernels_source: str, num_warps: int, env: dict[str, str] | None = None) -> None:
    """Compile every kernel that ``kernels_source`` lists in ``kernels`` ((jit fn, signature, constexprs)
    triples) for sm_90 in a fresh process outside Triton's interpreter; skips (with ptxas's message)
    only where no ptxas exists."""
    script = _HEADER + textwrap.dedent(kernels_source) + _BUILD.format(num_warps=num_warps)
    full_env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | (env or {})
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=full_env, timeout=300)
    if proc.returncode != 0 and "ptxas" in proc.stderr and "not found" in proc.stderr.lower():
        pytest.skip(f"no ptxas to build cubins here: {proc.stderr[-300:]}")
    assert proc.returncode == 0 and "compiled" in proc.stdout, proc.stderr[-3000:]
