"""Ingestion, one module per step: fetch, parse, (article), prepare → match, and the pipeline that orders them.

`pipeline.Pipeline._poll` is the one place that knows the order; `prepare` is the one
prepare → match path that the CLI tools share with it; `model` holds the data types.
"""
