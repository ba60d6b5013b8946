"""Bases for KAN edge functions. Each module registers one basis in :data:`BASES`."""

from . import bspline, chebyshev, fourier, rational, rbf  # noqa: F401  (registration)
from .base import BASES, Basis, register_basis

__all__ = ["BASES", "Basis", "register_basis"]
