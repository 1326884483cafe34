"""``privacy-pipeline topics``: create the pipeline's topics for every purpose of the policy."""

from __future__ import annotations

import typer

from pipeline.cli.app import app, settings
from pipeline.kafka import make_admin
from pipeline.policy import load_policy
from pipeline.topics import ensure_topics, pipeline_specs, with_prefix


@app.command("topics")
def topics() -> None:
    """Create the input, consent, sanitized, decision and dead-letter topics (idempotent).

    Partition count: PRIVACY_PIPELINE_PARTITIONS; purposes: PRIVACY_PIPELINE_POLICY; names under
    PRIVACY_PIPELINE_TOPIC_PREFIX. An existing topic with another partition count or cleanup
    policy is an error, never altered.
    """
    s = settings()
    purposes = load_policy(s.policy).purposes
    # The same prefix the worker, sink and rights commands put in front of every name.
    specs = with_prefix(pipeline_specs(s, purposes), s.topic_prefix)
    admin = make_admin(s)
    try:
        result = ensure_topics(admin, specs)
    finally:
        admin.close()
    for spec in specs:
        verb = "created" if spec.name in result.created else "exists "
        typer.echo(f"{verb} {spec.name} ({spec.partitions} partitions)")
    typer.echo(
        f"{len(result.created)} created, {len(result.existing)} already present "
        f"at {s.bootstrap_servers}"
    )
