"""Thin Dagster wrappers over the plain functions in pipeline/: ingest, validate, warehouse, reports."""
