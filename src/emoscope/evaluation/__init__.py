"""Metrics and reports from predictions and labels; no model code inside."""
