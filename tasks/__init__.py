"""Benchmark task definitions (GLUE, image classification, text, tabular, functions).

One module per task family; each task is a small declarative definition. The task
families arrive with the fine-tuning work (issue 4).
"""
