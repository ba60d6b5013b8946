"""The settings of ``kanformer paper fit`` and ``kanformer paper special`` (configs/paper/*.yaml),
declared with :func:`kanformer.settings.setting` and checked by :func:`kanformer.settings.validate`.

Importing this module imports no torch: the toy functions' names and input dimensions are looked up
in :mod:`.fitting` when a config is checked; the special functions' names are listed here
(:mod:`.special` holds the functions, under the same names).

    cfg = load_fit_config("configs/paper/toy.yaml")      # FitConfig, or one ValueError line
    cfg = load_special_config("configs/paper/special.yaml")
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..settings import SettingsError, above, at_least, between, from_settings, problem, read_yaml, setting, validate

DTYPE_NAMES = ("float32", "float64")
MLP_ACTIVATIONS = ("silu", "tanh", "relu", "gelu")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _paper_functions() -> list[str]:
    from .fitting import PAPER_FUNCTIONS

    return list(PAPER_FUNCTIONS)


#: The names of kanformer.paper.special.SPECIAL_FUNCTIONS (which needs scipy and torch), in its order.
SPECIAL_FUNCTION_NAMES = (
    "ellipj",
    "ellipkinc",
    "ellipeinc",
    "jv",
    "yv",
    "kv",
    "iv",
    "lpmv_m0",
    "lpmv_m1",
    "lpmv_m2",
    "sph_harm_m0_n1",
    "sph_harm_m1_n1",
    "sph_harm_m0_n2",
    "sph_harm_m1_n2",
    "sph_harm_m2_n2",
)


def _increasing(grids: list[int]) -> bool:
    return bool(grids) and min(grids) >= 1 and all(b > a for a, b in zip(grids[:-1], grids[1:], strict=False))


INCREASING = (_increasing, "need increasing integers >= 1, e.g. [3, 5, 10]")
NAME = (
    lambda n: bool(_NAME_RE.fullmatch(n)),
    "letters, digits, '.', '_' and '-' only: it names reports/paper/<name>/",
)


def _all_at_least(low: int, text: str) -> tuple[Any, str]:
    return (lambda v: bool(v) and min(v) >= low), text


@dataclass
class ToyFunction:
    """One function of the sweep: a name of PAPER_FUNCTIONS, the KAN shape and the grid schedule."""

    function: str = setting(help="the function to fit (a name of kanformer.paper.fitting.PAPER_FUNCTIONS)")
    widths: list[int] = setting(help="KAN widths [input dimension, ..., 1]")
    grids: list[int] = setting(help="the grid-extension schedule (intervals per grid)", check=INCREASING)
    steps_per_grid: int | None = setting(
        None, "LBFGS steps per grid for this function (default: the config's steps_per_grid)", check=at_least(1)
    )

    def __post_init__(self) -> None:
        validate(self, "paper function")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        """The function's name, and widths that start at its input dimension and end at 1."""
        if "function" in invalid:
            return []
        known = _paper_functions()
        if self.function not in known:
            return [problem(self, "function", f"not known; choose one of {known}")]
        from .fitting import PAPER_FUNCTIONS

        dim = PAPER_FUNCTIONS[self.function][0]
        widths = self.widths
        if "widths" not in invalid and (len(widths) < 2 or widths[0] != dim or widths[-1] != 1 or min(widths) < 1):
            return [problem(self, "widths", f"need [{dim}, ..., 1]")]
        return []


@dataclass
class TrainingSettings:
    """What both experiments share: data, precision, how KANs and MLPs are trained."""

    seed: int = setting(0, "seed of the data, the initialisations and the MLPs")
    n_train: int = setting(1000, "training points", check=at_least(1))
    n_test: int = setting(1000, "test points", check=at_least(1))
    dtype: str = setting("float64", "precision of data and models", choices=DTYPE_NAMES)
    threads: int = setting(1, "torch CPU threads", check=at_least(1))
    steps_per_grid: int = setting(20, "LBFGS steps (of up to 20 iterations) per grid", check=at_least(1))
    restarts: int = setting(3, "initialisations of the first grid; the lowest training RMSE goes on", check=at_least(1))
    grid_updates: int = setting(2, "times the grids move to the activations per stage", check=at_least(0))
    grid_updates_until: int = setting(20, "grid updates only on grids of at most this many", check=at_least(1))
    grid_eps: float = setting(
        1.0, "grid update blend: 1 = uniform grids over the activation range, 0 = quantiles", check=between(0, 1)
    )
    mlp_depths: list[int] = setting(
        help="MLP depths (Linear layers)",
        default_factory=lambda: [2, 3, 4],
        check=_all_at_least(2, "need Linear-layer counts >= 2"),
    )
    mlp_widths: list[int] = setting(
        help="MLP hidden widths", default_factory=lambda: [5, 10, 20, 50], check=_all_at_least(1, "need widths >= 1")
    )
    mlp_steps: int = setting(50, "LBFGS steps of each MLP", check=at_least(1))
    mlp_activation: str = setting("silu", "the MLPs' activation", choices=MLP_ACTIVATIONS)

    def kan_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~kanformer.paper.fitting.fit_kan` besides data, shape, grids and steps."""
        return {
            "seed": self.seed,
            "restarts": self.restarts,
            "grid_updates": self.grid_updates,
            "grid_updates_until": self.grid_updates_until,
            "grid_eps": self.grid_eps,
        }


@dataclass
class FitConfig(TrainingSettings):
    """``kanformer paper fit`` settings (configs/paper/toy.yaml)."""

    name: str = setting("toy", "report name: reports/paper/<name>/", check=NAME)
    description: str = setting("", "a sentence for the report")
    flat_slope: float = setting(
        0.5, "exponent fit: segments flatter than this slope at either end are left out", check=above(0)
    )
    functions: list[ToyFunction] = setting(
        help="the functions: a list of {function, widths, grids[, steps_per_grid]} mappings",
        default_factory=list,
        flag=False,
    )

    def __post_init__(self) -> None:
        validate(self, "paper fit")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        if "functions" not in invalid and not self.functions:
            return ["functions must be a non-empty list of {function, widths, grids} mappings"]
        return []


def _shape_ok(shape: list[int]) -> bool:
    return len(shape) >= 2 and shape[0] == 2 and shape[-1] == 1 and min(shape) >= 1


@dataclass
class SpecialConfig(TrainingSettings):
    """``kanformer paper special`` settings (configs/paper/special.yaml)."""

    name: str = setting("special", "report name: reports/paper/<name>/", check=NAME)
    description: str = setting("", "a sentence for the report")
    n_val: int = setting(1000, "validation points (the best models are chosen on them)", check=at_least(1))
    kan_grids: list[int] = setting(
        help="the grid-extension schedule of every KAN shape", default_factory=lambda: [3, 5, 10, 20], check=INCREASING
    )
    budgets: list[int] = setting(
        help="parameter budgets: the best KAN and MLP with at most this many parameters",
        default_factory=lambda: [100, 1000],
        check=_all_at_least(1, "need parameter counts >= 1"),
    )
    functions: list[str] = setting(
        help="special functions to fit (names of kanformer.paper.special.SPECIAL_FUNCTIONS)",
        default_factory=list,
        choices=SPECIAL_FUNCTION_NAMES,
    )
    kan_shapes: list[list[int]] = setting(
        help="KAN widths [2, ..., 1] to fit",
        default_factory=lambda: [[2, 1, 1], [2, 2, 1]],
        check=(
            lambda shapes: bool(shapes) and all(_shape_ok(s) for s in shapes),
            "need a list of KAN widths [2, ..., 1], e.g. [[2, 1, 1], [2, 2, 1]]",
        ),
        flag=False,
    )

    def __post_init__(self) -> None:
        validate(self, "paper special")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        if "functions" not in invalid and not self.functions:
            return [f"functions must be a non-empty list of names from {list(SPECIAL_FUNCTION_NAMES)}"]
        return []


PDE_ACTIVATIONS = ("tanh", "silu")


def _kan_widths_ok(w: list[int]) -> bool:
    return len(w) >= 2 and w[0] == 2 and w[-1] == 1 and min(w) >= 1


@dataclass
class PDEConfig:
    """``kanformer paper pde`` settings (configs/paper/pde.yaml).

    The 2-D Poisson problem of the KAN paper (Sec. 3.4): laplacian(u) = f on [-1, 1]^2, u = 0 on the
    boundary, exact u = sin(pi x) sin(pi y). Loss = mean interior residual^2 + alpha * mean boundary u^2.
    """

    name: str = setting("pde", "the report folder, reports/paper/<name>/", check=NAME)
    description: str = setting("", "one line for the report")
    seed: int = setting(0, "torch seed of every model's initialisation")
    dtype: str = setting("float64", "precision of training and evaluation", choices=DTYPE_NAMES)
    threads: int = setting(1, "torch threads", check=at_least(1))
    n_interior: int = setting(
        21, "interior collocation points per axis (an n x n grid; pykan's np_i)", check=at_least(2)
    )
    n_boundary: int = setting(21, "boundary points per side of the square (pykan's np_b)", check=at_least(2))
    n_test: int = setting(51, "test grid per axis (boundary included) for the L2 and H1 errors", check=at_least(2))
    alpha: float = setting(
        0.1, "boundary weight (pykan's PDE example uses 0.01; 0.1 pinned the boundary better here)", check=above(0)
    )
    kan_widths: list[int] = setting(
        help="KAN widths [2, ..., 1]",
        default_factory=lambda: [2, 10, 1],
        check=(_kan_widths_ok, "need KAN widths [2, ..., 1], e.g. [2, 10, 1]"),
    )
    kan_grids: list[int] = setting(
        help="the KAN's grid-extension schedule", check=INCREASING, default_factory=lambda: [5, 10, 20]
    )
    steps_per_grid: int = setting(
        20, "LBFGS steps per KAN grid (the MLPs get the KAN's whole budget)", check=at_least(1)
    )
    grid_update: bool = setting(True, "fit the first grid to the activations of the training points")
    mlp_depths: list[int] = setting(
        help="MLP depths (Linear layers)", check=_all_at_least(2, "need depths >= 2"), default_factory=lambda: [2, 3, 4]
    )
    mlp_widths: list[int] = setting(
        help="MLP widths", check=_all_at_least(1, "need widths >= 1"), default_factory=lambda: [10, 30, 100]
    )
    mlp_activation: str = setting("tanh", "the MLPs' activation", choices=PDE_ACTIVATIONS)

    def __post_init__(self) -> None:
        validate(self, "paper pde")

    @property
    def mlp_steps(self) -> int:
        """The MLPs' LBFGS steps: the KAN's whole budget, steps_per_grid x the number of grids."""
        return self.steps_per_grid * len(self.kan_grids)

    def as_dict(self) -> dict[str, Any]:
        """The plain mapping its YAML file would hold, plus the derived MLP step count."""
        return {**asdict(self), "mlp_steps": self.mlp_steps}


#: KAN bases the continual-learning experiment can use: B-splines and RBFs are local, Chebyshev
#: polynomials and Fourier features global (names of kanformer.layers.basis.BASES).
CONTINUAL_BASES = ("bspline", "rbf", "chebyshev", "fourier")


@dataclass
class ContinualConfig:
    """``kanformer paper continual`` settings (configs/paper/continual.yaml).

    The KAN paper's continual-learning toy (Sec. 3.5): a 1-D target with ``n_peaks`` Gaussian peaks on
    [-1, 1], its samples shown one peak's region at a time, one training phase per region.
    """

    name: str = setting("continual", "the report folder, reports/paper/<name>/", check=NAME)
    description: str = setting("", "one line for the report")
    seed: int = setting(0, "torch seed of both models' initialisation")
    dtype: str = setting("float64", "precision of data, models and training", choices=DTYPE_NAMES)
    threads: int = setting(1, "torch threads", check=at_least(1))
    n_peaks: int = setting(5, "Gaussian peaks; [-1, 1] is cut into this many regions, one per phase", check=at_least(2))
    points_per_peak: int = setting(
        100, "training points per region, evenly spaced over it (pykan's n_num_per_peak)", check=at_least(2)
    )
    sharpness: float = setting(300.0, "s in the target sum_i exp(-s (x - c_i)^2)", check=above(0))
    n_test: int = setting(
        500, "evaluation points evenly spaced on [-1, 1]: errors and plotted curves", check=at_least(10)
    )
    steps_per_phase: int = setting(100, "LBFGS steps per phase, for both models", check=at_least(1))
    kan_grid: int = setting(200, "grid intervals of the [1, 1] KAN on [-1, 1]", check=at_least(1))
    kan_basis: str = setting(
        "bspline", "the KAN's basis: bspline or rbf (local), chebyshev or fourier (global)", choices=CONTINUAL_BASES
    )
    kan_base: bool = setting(
        False, "add and train the SiLU base branch and the bias: global terms, which pykan freezes for this example"
    )
    kan_init_scale: float = setting(
        0.1, "std of the KAN's random start on unit-variance inputs (pykan's noise_scale=0.1)", check=above(0)
    )
    mlp_depth: int = setting(3, "the MLP's Linear layers", check=at_least(2))
    mlp_width: int = setting(13, "the MLP's hidden width (13 at depth 3: 222 parameters)", check=at_least(1))
    mlp_activation: str = setting("silu", "the MLP's activation", choices=MLP_ACTIVATIONS)

    def __post_init__(self) -> None:
        validate(self, "paper continual")


def _feynman_ids() -> list[str]:
    from .feynman_equations import equation_ids  # plain data, no torch

    return equation_ids()


@dataclass
class FeynmanConfig:
    """``kanformer paper feynman`` settings (configs/paper/feynman.yaml).

    Per equation of the KAN paper's Table 2: sparse-train a wide KAN [inputs, *hidden, 1], prune it,
    retrain it with grid extension, name its edges (auto-symbolic) and compare with an MLP of the
    pruned KAN's parameter count trained with the same LBFGS budget.
    """

    name: str = setting("feynman", "the report folder, reports/paper/<name>/", check=NAME)
    description: str = setting("", "one line for the report")
    seed: int = setting(0, "seed of the data, the KAN's and the MLP's initialisations")
    dtype: str = setting("float64", "precision of data, models and LBFGS", choices=DTYPE_NAMES)
    threads: int = setting(1, "torch threads", check=at_least(1))
    n_train: int = setting(1000, "training points per equation", check=at_least(8))
    n_test: int = setting(1000, "test points per equation", check=at_least(8))
    equations: list[str] = setting(
        help="Feynman equation ids (kanformer.paper.feynman_equations.EQUATIONS)",
        default_factory=lambda: ["I.12.11", "II.2.42"],
        choices=_feynman_ids,
    )
    hidden: list[int] = setting(
        help="hidden widths of the wide KAN that is pruned: widths [inputs, *hidden, 1]",
        default_factory=lambda: [5],
        check=_all_at_least(1, "need a non-empty list of widths >= 1"),
    )
    lamb: float = setting(
        1e-3, "weight of pykan's sparsity regulariser (the paper uses 1e-2 or 1e-3)", check=at_least(0)
    )
    lamb_l1: float = setting(1.0, "regulariser: weight of the L1 of the edge scales", check=at_least(0))
    lamb_entropy: float = setting(2.0, "regulariser: weight of their entropy", check=at_least(0))
    warmup: int = setting(0, "LBFGS steps over which lamb grows from 0", check=at_least(0))
    sparse_grid: int = setting(3, "grid of the sparse training (pykan's G = 3)", check=at_least(1))
    sparse_steps: int = setting(20, "LBFGS steps (of up to 20 iterations) of sparse training", check=at_least(1))
    grids: list[int] = setting(
        help="grid extension of the pruned KAN's retraining", check=INCREASING, default_factory=lambda: [5, 10, 20]
    )
    steps: int = setting(10, "LBFGS steps per retraining grid, and after each layer is named", check=at_least(1))
    r2_threshold: float = setting(0.99, "auto-symbolic locks an edge's fit with at least this R^2", check=between(0, 1))
    polish_steps: int = setting(
        50, "LBFGS steps (float64 tolerances) on a fully named formula's own parameters", check=at_least(0)
    )
    snap_tolerance: float = setting(
        1e-2,
        "sympy check: the formula's floats snap to simple numbers (p/q, p/q*pi, q <= 12) this close",
        check=above(0),
    )
    exact_tolerance: float = setting(
        1e-6, "numerical check: formula test RMSE at most this x std(y) counts as equal", check=above(0)
    )
    mlp_depth: int = setting(
        3, "the MLP's Linear layers (its width matches the pruned KAN's parameters)", check=at_least(2)
    )
    mlp_activation: str = setting("silu", "the MLP's activation", choices=MLP_ACTIVATIONS)

    def __post_init__(self) -> None:
        validate(self, "paper feynman")

    def cross_checks(self, invalid: frozenset[str] = frozenset()) -> list[str]:
        out = []
        if "equations" not in invalid and not self.equations:
            out.append(f"equations must be a non-empty list of ids from {_feynman_ids()}")
        if "sparse_grid" not in invalid and "grids" not in invalid and self.grids[0] <= self.sparse_grid:
            out.append(problem(self, "grids", f"must start above sparse_grid={self.sparse_grid} (grid extension)"))
        return out

    @property
    def mlp_steps(self) -> int:
        """The MLP's LBFGS steps: the spline KAN's whole budget, sparse_steps + steps x the number of grids."""
        return self.sparse_steps + self.steps * len(self.grids)

    def as_dict(self) -> dict[str, Any]:
        """The plain mapping its YAML file would hold, plus the derived MLP step count."""
        return {**asdict(self), "mlp_steps": self.mlp_steps}


def _parse(cls: type, settings: Mapping[str, Any], what: str, source: str) -> Any:
    try:
        return from_settings(cls, settings, what=what)
    except SettingsError as err:
        raise SettingsError(err.what, err.problems, f"{source}: {err}") from None


def parse_fit_config(settings: Mapping[str, Any], source: str = "config") -> FitConfig:
    """A :class:`FitConfig` from a YAML mapping; every problem is listed in one ValueError line."""
    return _parse(FitConfig, settings, "paper fit", source)


def load_fit_config(path: str) -> FitConfig:
    """Read and check a ``kanformer paper fit`` YAML file (one-line ValueError on any problem)."""
    return parse_fit_config(read_yaml(path), f"paper fit config {path!r}")


def parse_special_config(settings: Mapping[str, Any], source: str = "config") -> SpecialConfig:
    """A :class:`SpecialConfig` from a YAML mapping; every problem is listed in one ValueError line."""
    return _parse(SpecialConfig, settings, "paper special", source)


def load_special_config(path: str) -> SpecialConfig:
    """Read and check a ``kanformer paper special`` YAML file (one-line ValueError on any problem)."""
    return parse_special_config(read_yaml(path), f"paper special config {path!r}")


def parse_pde_config(settings: Mapping[str, Any], source: str = "config") -> PDEConfig:
    """A :class:`PDEConfig` from a YAML mapping; every problem is listed in one ValueError line."""
    return _parse(PDEConfig, settings, "paper pde", source)


def load_pde_config(path: str) -> PDEConfig:
    """Read and check a ``kanformer paper pde`` YAML file (one-line ValueError on any problem)."""
    return parse_pde_config(read_yaml(path), f"paper pde config {path!r}")


def parse_continual_config(settings: Mapping[str, Any], source: str = "config") -> ContinualConfig:
    """A :class:`ContinualConfig` from a YAML mapping; every problem is listed in one ValueError line."""
    return _parse(ContinualConfig, settings, "paper continual", source)


def load_continual_config(path: str) -> ContinualConfig:
    """Read and check a ``kanformer paper continual`` YAML file (one-line ValueError on any problem)."""
    return parse_continual_config(read_yaml(path), f"paper continual config {path!r}")


def config_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as the plain mapping its YAML file would hold."""
    return asdict(cfg)


def parse_feynman_config(settings: Mapping[str, Any], source: str = "config") -> FeynmanConfig:
    """A :class:`FeynmanConfig` from a YAML mapping; every problem is listed in one ValueError line."""
    return _parse(FeynmanConfig, settings, "paper feynman", source)


def load_feynman_config(path: str) -> FeynmanConfig:
    """Read and check a ``kanformer paper feynman`` YAML file (one-line ValueError on any problem)."""
    return parse_feynman_config(read_yaml(path), f"paper feynman config {path!r}")
