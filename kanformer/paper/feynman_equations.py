"""The Feynman equations of the KAN paper's Table 2 (Liu et al., 2024, Sec. 3.3), as plain data.

    from kanformer.paper.feynman_equations import EQUATIONS
    eq = EQUATIONS["I.16.6"]    # (a + b)/(1 + a*b) of a, b on [-1, 1]

No torch and no sympy here: ``kanformer paper feynman --help`` and the config check list the ids
without loading them. :mod:`kanformer.paper.feynman` parses the formulas and samples the data.

Formulas are the paper's *dimensionless* forms (its "Dimensionless formula" column) in sympy
syntax, over the variables of its "Variables" column. The paper states one sampling rule, for
its example I.16.6: every input uniform on (-1, 1). pykan's ``kan/feynman.py`` samples the
original (dimensional) variables uniformly on stated ranges. Here an input that is one of those
original variables (an angle theta, a density n0, ...) takes pykan's range; an input that combines
several (a = u/c, ...) takes the paper's [-1, 1], unless the formula is undefined or singular
there; ``note`` then says what was used instead.

``paper`` holds Table 2's columns for the equation, quoted from the paper (arXiv:2404.19756):
the shapes are KAN widths and the losses are test RMSE of the best of 3 seeds and several depths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperRow:
    """Table 2 of Liu et al. (2024) for one equation, as published (not measured here)."""

    human_shape: tuple[int, ...]
    smallest_pruned_shape: tuple[int, ...]  # the smallest pruned shape with test RMSE < 1e-2
    best_pruned_shape: tuple[int, ...]  # the pruned shape with the lowest test RMSE
    human_rmse: float
    pruned_rmse: float
    unpruned_rmse: float
    mlp_rmse: float


@dataclass(frozen=True)
class FeynmanEquation:
    """One equation: its id, the original and dimensionless formulas, inputs and their ranges.

    ``ranges`` are (low, high) per variable as sympy-readable text ("0", "2*pi").
    """

    id: str
    original: str
    formula: str
    variables: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...]
    paper: PaperRow
    note: str = ""


TWO_PI = ("0", "2*pi")
UNIT = ("-1", "1")


def _eq(
    id: str,
    original: str,
    formula: str,
    ranges: dict[str, tuple[str, str]],
    paper: tuple,
    note: str = "",
) -> FeynmanEquation:
    shapes, losses = paper[:3], paper[3:]
    row = PaperRow(*(tuple(s) for s in shapes), *losses)
    return FeynmanEquation(id, original, formula, tuple(ranges), tuple(ranges.values()), row, note)


_TABLE = (
    _eq(
        "I.6.2",
        "exp(-theta^2/(2 sigma^2))/sqrt(2 pi sigma^2)",
        "exp(-theta**2/(2*sigma**2))/sqrt(2*pi*sigma**2)",
        {"theta": UNIT, "sigma": ("0.5", "2")},
        ([2, 2, 1, 1], [2, 2, 1], [2, 2, 1, 1], 7.66e-5, 2.86e-5, 4.60e-5, 1.45e-4),
    ),
    _eq(
        "I.6.2b",
        "exp(-(theta - theta1)^2/(2 sigma^2))/sqrt(2 pi sigma^2)",
        "exp(-(theta - theta1)**2/(2*sigma**2))/sqrt(2*pi*sigma**2)",
        {"theta": ("-1.5", "1.5"), "theta1": ("-1.5", "1.5"), "sigma": ("0.5", "2")},
        ([3, 2, 2, 1, 1], [3, 4, 1], [3, 2, 2, 1, 1], 1.22e-3, 4.45e-4, 1.25e-3, 7.40e-4),
    ),
    _eq(
        "I.12.11",
        "q (E_f + B v sin(theta))",
        "1 + a*sin(theta)",
        {"a": UNIT, "theta": TWO_PI},
        ([2, 2, 2, 1], [2, 2, 1], [2, 2, 1], 2.07e-3, 1.39e-3, 9.13e-4, 6.71e-4),
    ),
    _eq(
        "I.13.12",
        "G m1 m2 (1/r2 - 1/r1)",
        "a*(1/b - 1)",
        {"a": UNIT, "b": ("0.5", "2")},
        ([2, 2, 1], [2, 2, 1], [2, 2, 1], 7.22e-3, 4.81e-3, 2.72e-3, 1.42e-3),
        note="b = r2/r1 on pykan's r range [0.5, 2] (1/b is singular at 0)",
    ),
    _eq(
        "I.15.3x",
        "(x - u t)/sqrt(1 - (u/c)^2)",
        "(1 - a)/sqrt(1 - b**2)",
        {"a": UNIT, "b": ("-0.9", "0.9")},
        ([2, 2, 1, 1], [2, 1, 1], [2, 2, 1, 1, 1], 7.35e-3, 1.58e-3, 1.14e-3, 8.54e-4),
        note="b = u/c on [-0.9, 0.9], pykan's v range for I.15.10 (singular at |b| = 1)",
    ),
    _eq(
        "I.16.6",
        "(u + v)/(1 + u v/c^2)",
        "(a + b)/(1 + a*b)",
        {"a": UNIT, "b": UNIT},
        ([2, 2, 2, 2, 2, 1], [2, 2, 1], [2, 2, 1], 1.06e-3, 1.19e-3, 1.53e-3, 6.20e-4),
    ),
    _eq(
        "I.18.4",
        "(m1 r1 + m2 r2)/(m1 + m2)",
        "(1 + a*b)/(1 + a)",
        {"a": ("0.5", "2"), "b": UNIT},
        ([2, 2, 2, 1, 1], [2, 2, 1], [2, 2, 1], 3.92e-4, 1.50e-4, 1.32e-3, 3.68e-4),
        note="a = m2/m1 on [0.5, 2], the ratio of pykan's masses in [0.5, 1] (1 + a vanishes at -1)",
    ),
    _eq(
        "I.27.6",
        "1/(1/d1 + n/d2)",
        "1/(1 + a*b)",
        {"a": ("0.5", "2"), "b": ("0.5", "2")},
        ([2, 2, 1, 1], [2, 1, 1], [2, 1, 1], 2.22e-4, 1.94e-4, 2.14e-4, 2.46e-4),
        note="a = n and b = d1/d2 on [0.5, 2], pykan's ranges of n and d (1 + ab vanishes on [-1, 1]^2)",
    ),
    _eq(
        "I.29.16",
        "sqrt(x1^2 + x2^2 - 2 x1 x2 cos(theta1 - theta2))",
        "sqrt(1 + a**2 - 2*a*cos(theta1 - theta2))",
        {"a": UNIT, "theta1": TWO_PI, "theta2": TWO_PI},
        ([3, 2, 2, 3, 2, 1, 1], [3, 2, 2, 1], [3, 2, 3, 1], 2.36e-1, 3.99e-3, 3.20e-3, 4.64e-3),
    ),
    _eq(
        "I.30.3",
        "I0 sin^2(n theta/2)/sin^2(theta/2)",
        "sin(n*theta/2)**2/sin(theta/2)**2",
        {"n": ("0", "4"), "theta": ("0.4*pi", "1.6*pi")},
        ([2, 3, 2, 2, 1, 1], [2, 4, 3, 1], [2, 3, 2, 3, 1, 1], 3.85e-1, 1.03e-3, 1.11e-2, 1.50e-2),
    ),
    _eq(
        "I.30.5",
        "arcsin(lambda/(n d))",
        "asin(a/n)",
        {"a": UNIT, "n": ("1", "1.5")},
        ([2, 1, 1], [2, 1, 1], [2, 1, 1, 1, 1, 1], 2.23e-4, 3.49e-5, 6.92e-5, 9.45e-5),
    ),
    _eq(
        "I.37.4",
        "I1 + I2 + 2 sqrt(I1 I2) cos(delta)",
        "1 + a + 2*sqrt(a)*cos(delta)",
        {"a": ("0.1", "1"), "delta": TWO_PI},
        ([2, 3, 2, 1], [2, 2, 1], [2, 2, 1], 7.57e-5, 4.91e-6, 3.41e-4, 5.67e-4),
        note="a = I2/I1 on pykan's intensity range [0.1, 1] (sqrt(a) needs a >= 0)",
    ),
    _eq(
        "I.40.1",
        "n0 exp(-m g x/(k_B T))",
        "n0*exp(-a)",
        {"n0": ("0", "1"), "a": UNIT},
        ([2, 1, 1], [2, 2, 1], [2, 2, 1, 1, 1, 2, 1], 3.45e-3, 5.01e-4, 3.12e-4, 3.99e-4),
    ),
    _eq(
        "I.44.4",
        "n k_b T ln(V2/V1)",
        "n*log(a)",
        {"n": ("0", "1"), "a": ("0.5", "2")},
        ([2, 2, 1], [2, 2, 1], [2, 2, 1], 2.30e-5, 2.43e-5, 1.10e-4, 3.99e-4),
        note="a = V2/V1 on pykan's volume range [0.5, 2] (log needs a > 0)",
    ),
    _eq(
        "I.50.26",
        "x1 (cos(omega t) + alpha cos^2(omega t))",
        "cos(a) + alpha*cos(a)**2",
        {"a": TWO_PI, "alpha": ("0", "1")},
        ([2, 2, 3, 1], [2, 3, 1], [2, 3, 2, 1], 1.52e-4, 5.82e-4, 4.90e-4, 1.53e-3),
        note="a = omega t on pykan's omega range [0, 2 pi] (t = 1)",
    ),
    _eq(
        "II.2.42",
        "kappa (T2 - T1) A/d",
        "(a - 1)*b",
        {"a": UNIT, "b": UNIT},
        ([2, 2, 1], [2, 2, 1], [2, 2, 2, 1], 8.54e-4, 7.22e-4, 1.22e-3, 1.81e-4),
    ),
    _eq(
        "II.6.15a",
        "3/(4 pi epsilon) p_d z/r^5 sqrt(x^2 + y^2)",
        "c*sqrt(a**2 + b**2)/(4*pi)",
        {"a": ("0", "1"), "b": ("0", "1"), "c": ("0", "1")},
        ([3, 2, 2, 2, 1], [3, 2, 1, 1], [3, 2, 1, 1], 2.61e-3, 3.28e-3, 1.35e-3, 5.92e-4),
        note="a, b, c on pykan's coordinate range [0, 1]",
    ),
    _eq(
        "II.11.7",
        "n0 (1 + p_d E_f cos(theta)/(k_B T))",
        "n0*(1 + a*cos(theta))",
        {"n0": ("0", "1"), "a": UNIT, "theta": TWO_PI},
        ([3, 3, 3, 2, 2, 1], [3, 3, 1, 1], [3, 3, 1, 1], 7.10e-3, 8.52e-3, 5.03e-3, 5.92e-4),
    ),
    _eq(
        "II.11.27",
        "n alpha/(1 - n alpha/3) epsilon E_f",
        "n*alpha/(1 - n*alpha/3)",
        {"n": ("0", "1"), "alpha": ("0", "2")},
        ([2, 2, 1, 2, 1], [2, 1, 1], [2, 2, 1], 2.67e-5, 4.40e-5, 1.43e-5, 7.18e-5),
    ),
    _eq(
        "II.35.18",
        "n0/(exp(mu_m B/(k_B T)) + exp(-mu_m B/(k_B T)))",
        "n0/(exp(a) + exp(-a))",
        {"n0": ("0", "1"), "a": UNIT},
        ([2, 1, 1], [2, 1, 1], [2, 1, 1, 1], 4.13e-4, 1.58e-4, 7.71e-5, 7.92e-5),
    ),
    _eq(
        "II.36.38",
        "mu_m B/(k_B T) + mu_m alpha M/(epsilon c^2 k_B T)",
        "a + alpha*b",
        {"a": UNIT, "alpha": ("0", "1"), "b": UNIT},
        ([3, 3, 1], [3, 2, 1], [3, 2, 1], 2.85e-3, 1.15e-3, 3.03e-3, 2.15e-3),
    ),
    _eq(
        "II.38.3",
        "Y A x/d",
        "a/b",
        {"a": UNIT, "b": ("0.5", "2")},
        ([2, 1, 1], [2, 1, 1], [2, 2, 1, 1, 1], 1.47e-4, 8.78e-5, 6.43e-4, 5.26e-4),
        note="b on pykan's d range [0.5, 2] (1/b is singular at 0)",
    ),
    _eq(
        "III.10.19",
        "mu_m sqrt(B_x^2 + B_y^2 + B_z^2)",
        "sqrt(1 + a**2 + b**2)",
        {"a": UNIT, "b": UNIT},
        ([2, 1, 1], [2, 1, 1], [2, 1, 2, 1], 2.54e-3, 1.18e-3, 8.16e-4, 1.67e-4),
    ),
    _eq(
        "III.17.37",
        "beta (1 + alpha cos(theta))",
        "beta*(1 + alpha*cos(theta))",
        {"alpha": ("0", "1"), "beta": ("0", "1"), "theta": TWO_PI},
        ([3, 3, 3, 2, 2, 1], [3, 3, 1], [3, 3, 1], 1.10e-3, 5.03e-4, 4.12e-4, 6.80e-4),
    ),
)

#: id -> equation, in the paper's order.
EQUATIONS: dict[str, FeynmanEquation] = {eq.id: eq for eq in _TABLE}


def equation_ids() -> list[str]:
    """The known equation ids, in the paper's order."""
    return list(EQUATIONS)
