"""Evaluation metrics and report, Parquet exports and the run summary."""
