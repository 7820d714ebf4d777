"""Benchmarks that run with one command and record where they ran.

Each benchmark is a module run as ``python -m benchmarks.<name>``. It appends one JSON
record per run to ``benchmarks/results/<name>.jsonl`` (``records.append_record``) and
replaces its own section of ``BENCHMARKS.md`` (``records.update_page_section``), so
several benchmarks share that page without overwriting each other.
"""
