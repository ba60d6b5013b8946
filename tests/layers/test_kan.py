"""KAN: the stacked network (fitting ability, validation, regulariser, grids, serialisation)."""

from __future__ import annotations

import copy

import pytest
import torch

from kanformer import KAN, KANLinear
from kanformer.fitting import train_lbfgs
from kanformer.layers.knots import interior


def pykan_target(x: torch.Tensor) -> torch.Tensor:
    """pykan's toy problem f(x, y) = exp(sin(pi x) + y^2)."""
    return torch.exp(torch.sin(torch.pi * x[:, :1]) + x[:, 1:] ** 2)


def test_kan_fits_pykan_toy_problem() -> None:
    """A [2, 5, 1] KAN with LBFGS and a 3 -> 5 -> 10 grid schedule reaches test RMSE < 1e-2.

    Measured test RMSE after each stage (seed 0): 2.4e-2, 7.1e-3, 3.2e-3 (seeds 1-3: final
    1.9e-3 .. 3.8e-3); about 3 s on CPU.
    """
    torch.manual_seed(0)
    xtr, xte = torch.rand(1000, 2) * 2 - 1, torch.rand(1000, 2) * 2 - 1
    ytr, yte = pykan_target(xtr), pykan_target(xte)
    model = KAN([2, 5, 1], grid_size=3)
    model.update_grid(xtr)
    rmse = []
    for stage, size in enumerate([3, 5, 10]):
        if stage:
            model.extend_grid(size)  # replaces the coefficient Parameters: a new optimiser follows
        train_lbfgs(model, xtr, ytr, steps=10)
        with torch.no_grad():
            rmse.append((model(xte) - yte).square().mean().sqrt().item())
    assert all(layer.basis.grid_size == 10 for layer in model.layers)
    assert rmse[-1] < 1e-2, rmse
    assert rmse[-1] < rmse[0], rmse  # the finer grids help


@pytest.mark.parametrize("widths", [[3], [], [2, 0], [2, -1, 1], [2, 2.5, 1]])
def test_kan_rejects_bad_widths(widths: list) -> None:
    """Fewer than two widths, or a non-positive / non-integer width, is a ValueError naming widths."""
    with pytest.raises(ValueError, match="widths"):
        KAN(widths)


def test_kan_forward_shapes_and_layer_kwargs() -> None:
    """(..., w0) -> (..., w_last); layer kwargs reach every layer; layer_inputs lists each layer's input."""
    model = KAN([3, 4, 2], basis="chebyshev", grid_size=4, sharing="edge")
    assert [(layer.in_features, layer.out_features) for layer in model.layers] == [(3, 4), (4, 2)]
    assert all(isinstance(layer, KANLinear) and layer.basis.name == "chebyshev" for layer in model.layers)
    x = torch.randn(2, 5, 3)
    y = model(x)
    assert y.shape == (2, 5, 2)
    inputs = model.layer_inputs(x)
    assert [t.shape for t in inputs] == [(2, 5, 3), (2, 5, 4)]
    torch.testing.assert_close(model.layers[1](inputs[1]), y)


def test_kan_regularization_loss_is_sum_of_layers() -> None:
    """KAN.regularization_loss is a positive finite scalar: the sum of the layers' losses on their inputs."""
    model = KAN([3, 4, 2])
    x = torch.randn(64, 3)
    reg = model.regularization_loss(x)
    assert reg.dim() == 0 and torch.isfinite(reg) and reg.item() > 0
    h = model.layers[0](x)
    expected = model.layers[0].regularization_loss(x) + model.layers[1].regularization_loss(h)
    torch.testing.assert_close(reg, expected)
    lambdas = dict(lamb_l1=0.5, lamb_entropy=0.0, lamb_coef=0.1, lamb_coefdiff=0.1)
    reg2 = model.regularization_loss(x, **lambdas)
    expected2 = model.layers[0].regularization_loss(x, **lambdas) + model.layers[1].regularization_loss(h, **lambdas)
    torch.testing.assert_close(reg2, expected2)


def test_l1_regularised_training_decreases_objective() -> None:
    """Adam on mse + 1e-2 * L1 regulariser lowers both the objective and the regulariser.

    Measured over 100 steps: objective 1.05 -> 0.056, regulariser 6.7 -> 4.6.
    """
    x = torch.rand(500, 3) * 2 - 1
    y = torch.sin(torch.pi * x[:, :1])  # inputs 1 and 2 are irrelevant
    model = KAN([3, 4, 1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def objective() -> tuple[torch.Tensor, torch.Tensor]:
        reg = model.regularization_loss(x, lamb_l1=1.0, lamb_entropy=0.0)
        return (model(x) - y).square().mean() + 1e-2 * reg, reg

    with torch.no_grad():
        obj0, reg0 = objective()
    for _ in range(100):
        opt.zero_grad()
        obj, _ = objective()
        obj.backward()
        opt.step()
    with torch.no_grad():
        obj1, reg1 = objective()
    assert obj1 < 0.2 * obj0, (obj0, obj1)
    assert reg1 < reg0, (reg0, reg1)


def test_kan_update_grid_fits_each_layer_to_its_inputs() -> None:
    """KAN.update_grid(x, grid_eps=1) puts each layer's grid over the (widened) range of that layer's inputs."""
    model = KAN([2, 3, 1])
    x = 3 * torch.randn(300, 2)
    with torch.no_grad():
        model.update_grid(x, grid_eps=1.0)
        hidden = model.layers[0](x)  # the second layer's input, after the first layer moved its grid
    for layer, inp in zip(model.layers, [x, hidden], strict=True):
        grid = interior(layer.basis.knots, 3)
        lo, hi = inp.min(0).values, inp.max(0).values
        torch.testing.assert_close(grid[:, 0], lo - 0.01 * (hi - lo), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(grid[:, -1], hi + 0.01 * (hi - lo), atol=1e-4, rtol=1e-4)


def test_kan_state_dict_roundtrip_after_grid_changes() -> None:
    """A fresh KAN with the same arguments loads the state of an extended, data-adapted KAN and matches exactly."""
    model = KAN([2, 3, 1], grid_size=4)
    x = torch.rand(200, 2) * 2 - 1
    model.update_grid(x)
    model.extend_grid(8)
    fresh = KAN([2, 3, 1], grid_size=4)
    fresh.load_state_dict(copy.deepcopy(model.state_dict()))
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    assert all(not layer.basis.uniform and layer.basis.grid_size == 8 for layer in fresh.layers)
