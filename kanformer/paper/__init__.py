"""Experiments of the KAN paper (Liu et al., 2024), run with kanformer's own layers."""
