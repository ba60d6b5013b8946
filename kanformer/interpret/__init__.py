"""Interpretation tools: pictures and measurements of what KAN layers learned."""
