"""Benchmark scripts (not installed, not collected by pytest). Run each from the repository root
as a module, ``.venv/bin/python -m benchmarks.<name>``, so that the test support package they
share with the suite (``tests.support``) is importable. ``privacy-pipeline bench`` is the
product's own benchmark (:mod:`pipeline.bench`); these measure one component at a time."""
