"""Reading the coefficients of a recovered exp(sin(pi x) + y^2), for the symbolic-regression tests."""

from __future__ import annotations

import math

import sympy

X, Y = sympy.symbols("x y")


def exp_coefficients(expr: sympy.Expr) -> dict[str, float]:
    """c0..c5 and c_y of scale*exp(c1*sin(c2*x + c3) + c4*y**2 + c_y*y + c5) + c0 (the truth: c_y = c0 = 0).

    sympy writes exp(u + c5) as exp(c5)*exp(u): the scale is folded into c5.
    """
    c0, term = expr.as_coeff_Add()
    scale, exp = term.as_coeff_Mul()
    assert exp.func == sympy.exp and scale > 0, expr
    arg = exp.args[0]
    (sin_term,) = [t for t in sympy.Add.make_args(arg) if t.has(sympy.sin)]
    c1, sin = sin_term.as_coeff_Mul()
    assert sin.func == sympy.sin, expr
    inner = sympy.expand(sin.args[0])
    rest = sympy.expand(arg - sin_term)
    assert rest.free_symbols <= {Y} and inner.free_symbols == {X} and sympy.degree(rest, Y) == 2, expr
    return {
        "c1": float(c1),
        "c2": float(inner.coeff(X, 1)),
        "c3": float(inner.subs(X, 0)),
        "c4": float(rest.coeff(Y, 2)),
        "c_y": float(rest.coeff(Y, 1)),
        "c5": float(rest.subs(Y, 0)) + math.log(float(scale)),
        "c0": float(c0),
    }
