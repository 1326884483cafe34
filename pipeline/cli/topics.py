"""``privacy-pipeline topics``: create (or ``--delete``) the pipeline's topics."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.app import app, settings
from pipeline.cli.output import FormatOption, Rows, check_format, emit
from pipeline.errors import UsageError
from pipeline.kafka import make_admin
from pipeline.policy import load_policy
from pipeline.topics import TopicNames, all_specs, delete_topics, ensure_topics


@app.command("topics")
def topics(
    delete: Annotated[bool, typer.Option(
        "--delete", help="Delete the project's topics under the current prefix instead "
        "(every event, consent record and worker state in them is lost).")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Confirm --delete (required: nothing is deleted without it).")] = False,
    fmt: FormatOption = "table",
) -> None:
    """Create the input, consent, sanitized, decision, dead-letter and worker-state topics.

    Idempotent. Partition count: PRIVACY_PIPELINE_PARTITIONS; purposes, input retention and
    compaction bounds: PRIVACY_PIPELINE_POLICY; names under PRIVACY_PIPELINE_TOPIC_PREFIX. An
    existing topic gets the policy's retention and compaction configs ("altered"); one with
    another partition count or cleanup policy is an error, never altered: delete it (--delete
    --yes) and run again.
    """
    check_format(fmt)
    s = settings()
    policy = load_policy(s.policy)
    # Named by TopicNames, as the worker, sink and rights commands name them.
    specs = all_specs(s, policy.purposes, policy.erasure)
    if delete and not yes:
        raise UsageError("--delete removes every topic of the pipeline under prefix "
                         f"{s.topic_prefix!r} and the data in them: add --yes to confirm")
    admin = make_admin(s)
    try:
        if delete:
            leftovers = list(TopicNames.from_settings(s).leftovers)
            _delete(admin, [sp.name for sp in specs] + leftovers, s.bootstrap_servers)
            return
        result = ensure_topics(admin, specs)
    finally:
        admin.close()
    state = {n: "created" for n in result.created} | {n: "altered" for n in result.altered}
    if fmt == "table":
        for spec in specs:
            verb = state.get(spec.name, "exists").ljust(7)
            typer.echo(f"{verb} {spec.name} ({spec.partitions} partitions)")
    else:
        rows = [(sp.name, sp.partitions, sp.configs.get("cleanup.policy"),
                 state.get(sp.name, "exists")) for sp in specs]
        emit(Rows(("topic", "partitions", "cleanup_policy", "state"), rows), fmt)
    typer.echo(
        f"{len(result.created)} created, {len(result.existing)} already present "
        f"({len(result.altered)} brought in line with the policy's retention and compaction) "
        f"at {s.bootstrap_servers}", err=fmt != "table"
    )


def _delete(admin: object, names: list[str], where: str) -> None:
    deleted = delete_topics(admin, names)
    for name in deleted:
        typer.echo(f"deleted {name}")
    typer.echo(f"{len(deleted)} deleted at {where}")
