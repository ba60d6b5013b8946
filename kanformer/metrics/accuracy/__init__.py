"""Accuracy metric script for ``evaluate.load`` (see ``accuracy.py``)."""
