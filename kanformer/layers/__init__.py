"""The mathematics of KAN layers. No Hugging Face imports here."""

from .basis import BASES, Basis, register_basis
from .kan import KAN
from .kan_linear import KANLinear

__all__ = ["BASES", "KAN", "Basis", "KANLinear", "register_basis"]
