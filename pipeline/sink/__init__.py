"""The sink: sanitized records -> exact, de-duplicated aggregates in DuckDB, exactly once.

``privacy-pipeline sink`` runs :func:`pipeline.sink.service.run_sink`; see README.md
"Sink and scale-out" and docs/ARCHITECTURE.md "Records from processors to the sink".
"""
