"""``python -m pipeline.cli``: the same as the ``privacy-pipeline`` console script."""

from __future__ import annotations

from pipeline.cli import main

main()
