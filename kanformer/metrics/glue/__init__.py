"""GLUE metric script for ``evaluate.load`` (see ``glue.py``)."""
