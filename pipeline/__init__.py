"""privacy-pipeline: settings, command line, app wiring, sink and collector."""

from __future__ import annotations

__version__ = "0.1.0"
