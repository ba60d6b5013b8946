"""KAN.save / KAN.load: a file that rebuilds the same network, and clear errors for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kanformer import KAN


def _same_network(a: KAN, b: KAN, x: torch.Tensor) -> None:
    assert b.widths == a.widths and b.layer_kwargs == a.layer_kwargs
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert type(la.basis) is type(lb.basis) and la.sharing == lb.sharing
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_round_trip_after_update_and_extend_grid(tmp_path: Path) -> None:
    """A data-adapted grid refined 4 -> 9 comes back at size 9 with the same knots and outputs, bit for bit."""
    model = KAN([2, 3, 1], grid_size=4, spline_order=2, grid_range=(-2.0, 2.0))
    x = torch.rand(200, 2) * 3 - 1.5
    model.update_grid(x)
    model.extend_grid(9)
    path = model.save(tmp_path / "sub" / "kan.pt")  # the folder is created
    assert path == tmp_path / "sub" / "kan.pt" and path.is_file()
    loaded = KAN.load(path)
    _same_network(model, loaded, x)
    for la, lb in zip(model.layers, loaded.layers, strict=True):
        assert lb.basis.grid_size == 9 and lb.spline_weight.shape == la.spline_weight.shape
        assert torch.equal(la.basis.knots, lb.basis.knots)
    assert not list(tmp_path.glob("sub/.*.tmp"))  # the temporary file was renamed, not left behind


@pytest.mark.parametrize(
    "kwargs",
    [
        {"basis": "chebyshev", "grid_size": 4},
        {"basis": "rational", "sharing": "group", "groups": 2},
        {"basis": "bspline", "sharing": "group", "groups": 2, "base_activation": "none"},
    ],
)
def test_round_trip_other_bases_and_group_sharing(tmp_path: Path, kwargs: dict) -> None:
    """Bases without grids and group sharing rebuild from their saved options alone."""
    model = KAN([4, 2, 2], **kwargs)
    x = torch.randn(64, 4)
    _same_network(model, KAN.load(model.save(tmp_path / "kan.pt")), x)


def test_round_trip_keeps_dtype_and_drops_device(tmp_path: Path) -> None:
    """A float64 network loads as float64; device and dtype are not part of the saved options."""
    model = KAN([2, 2], dtype=torch.float64, device="cpu")
    assert "dtype" not in model.layer_kwargs and "device" not in model.layer_kwargs
    loaded = KAN.load(model.save(tmp_path / "kan.pt"))
    assert all(p.dtype == torch.float64 for p in loaded.parameters())
    _same_network(model, loaded, torch.randn(10, 2, dtype=torch.float64))


def _one_line_error(path: Path, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        KAN.load(path)
    assert "\n" not in str(info.value)


def test_load_rejects_what_is_not_a_saved_kan(tmp_path: Path) -> None:
    """Missing files, text, other torch files, other versions and incomplete records: one-line ValueErrors."""
    _one_line_error(tmp_path / "missing.pt", "is not a file")
    text = tmp_path / "notes.txt"
    text.write_text("not a network\n" * 10)
    _one_line_error(text, "not a KAN saved with KAN.save")
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    _one_line_error(other, "format='kanformer-kan'")
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    _one_line_error(tensor, "not a KAN saved")
    record = torch.load(KAN([2, 1]).save(tmp_path / "kan.pt"), weights_only=True)
    torch.save({**record, "version": 2}, tmp_path / "v2.pt")
    _one_line_error(tmp_path / "v2.pt", "version 2")
    del record["grid_sizes"]
    torch.save(record, tmp_path / "partial.pt")
    _one_line_error(tmp_path / "partial.pt", "grid_sizes")


def test_save_rejects_options_a_file_cannot_hold(tmp_path: Path) -> None:
    """An option that is not plain data (here a tensor grid_range) fails at save time, naming it."""
    model = KAN([2, 1], grid_range=torch.tensor([-2.0, 2.0]))
    with pytest.raises(ValueError, match="grid_range"):
        model.save(tmp_path / "kan.pt")
    assert not list(tmp_path.iterdir())
