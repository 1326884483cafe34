"""The demo's steps, in order, and the cleanup that always follows them."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline import broker as local_broker
from pipeline import topics
from pipeline.demo.children import Child, Children, Signals
from pipeline.demo.exceptions import DemoError, Interrupted
from pipeline.demo.positions import sink_lag, worker_lag
from pipeline.errors import UsageError
from pipeline.kafka import make_admin, make_producer, probe
from pipeline.policy import load_policy
from pipeline.settings import Settings

_POLL_S = 0.5
_STOP_GRACE_S = 20.0


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Size of the run (the defaults take well under a minute on two cores)."""

    users: int = 5_000
    events: int = 50_000
    seed: int = 0
    workers: int = 1
    timeout_s: float = 300.0
    """Bound on the wait for the workers and the sink once everything is produced."""


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What a finished demo reports."""

    messages: int
    seconds: float
    """From the first message produced to ``analytics.duckdb`` published."""
    analytics: Path
    truth: Path
    logs: Path

    @property
    def rate(self) -> float:
        """End-to-end events per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


class Demo:
    """One run: what it started (to stop exactly that) and the steps in order."""

    def __init__(self, settings: Settings, options: DemoOptions, console: Console) -> None:
        self.settings = settings
        self.options = options
        self.console = console
        self.policy = load_policy(settings.policy)
        self.logs = settings.data_dir / "logs"
        self.signals = Signals()
        self.children = Children(self.logs, os.environ, self.signals)
        self.sink: Child | None = None
        self.broker_started = False
        self.began = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the first message was produced."""
        return time.monotonic() - self.began

    def say(self, text: str) -> None:
        """One progress line."""
        self.console.print(text, highlight=False)

    def broker(self) -> None:
        """Use the broker that answers, or start this data dir's (and remember to stop it)."""
        if probe(self.settings, 2.0):
            self.say(f"broker: using the one answering at {self.settings.bootstrap_servers} "
                     "(left running)")
            return
        already = local_broker.status(self.settings).running
        try:
            state = local_broker.start(self.settings, notify=self.say)
        except BaseException:
            if not already:  # it may have been launched before failing to answer
                local_broker.stop(self.settings)
            raise
        self.broker_started = state.started
        self.say(f"broker: {'started' if state.started else 'running'} (pid {state.pid}) at "
                 f"{state.address}{', stopped at the end' if state.started else ''}")

    def topics(self) -> None:
        """Create the pipeline's topics under the prefix (idempotent)."""
        s = self.settings
        specs = topics.all_specs(s, self.policy.purposes, self.policy.erasure)
        admin = make_admin(s)
        try:
            result = topics.ensure_topics(admin, specs)
        finally:
            admin.close()
        self.say(f"topics: {len(result.created)} created, {len(result.existing)} already present")

    def keys(self) -> None:
        """``keys init`` on a fresh data dir, else ``keys ensure``."""
        import keys
        from keys.kek import PRODUCTION_WARNING

        specs = self.policy.key_specs()
        paths = keys.KeyPaths.from_settings(self.settings)
        if paths.keyring.exists():
            created = keys.open_keyring(self.settings, specs).ensure()
            self.say(f"keys: keyring present, {len(created)} epochs added")
            return
        _, new_master = keys.init_keyring(self.settings, specs)
        self.say(f"keys: keyring created at {paths.keyring}")
        if new_master:
            self.say(PRODUCTION_WARNING.format(path=paths.master_key))

    def start_processes(self) -> None:
        """Start the workers and the sink (one shard, whatever PRIVACY_PIPELINE_SINK_SHARD says)."""
        for i in range(1, self.options.workers + 1):
            self.children.start(f"worker-{i}", "worker", "--id", str(i))
        self.sink = self.children.start("sink", "sink", "--shard", "0/1", "--log-level", "info")
        self.say(f"processes: {self.options.workers} worker(s) and 1 sink started "
                 f"(logs: {self.logs})")

    def simulate(self) -> tuple[int, Path]:
        """Generate the traffic and its truth, then produce it; (messages, truth file)."""
        from pipeline.simulator import SimulationConfig, generate, ground_truth, produce
        from pipeline.simulator.clock import default_hours, default_start
        from pipeline.simulator.run import write_truth

        o, now = self.options, datetime.now(UTC)
        hours = default_hours(o.events)
        # End the span a grace window (and a margin) ago: no event is held for a banner answer
        # that will never come, so the workers' lag says when every decision is out.
        end = now - timedelta(seconds=self.policy.grace_seconds + 60)
        config = SimulationConfig(o.users, o.events, o.seed, default_start(end, hours), hours)
        traffic = generate(config)
        truth = self.settings.data_dir / "truth" / f"demo-{o.seed}.json"
        write_truth(ground_truth(traffic, self.policy, now), traffic, truth)
        names = topics.TopicNames.from_settings(self.settings).inputs_by_contract()
        producer = make_producer(self.settings, client_id="privacy-pipeline-demo")
        columns = (TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())

        def advance(n: int) -> None:
            self.signals.check()  # raised here, outside the Kafka client's own loop
            bar.advance(task, n)

        try:
            with Progress(*columns, console=self.console, transient=True) as bar:
                task = bar.add_task("produce", total=len(traffic.messages))
                self.began = time.monotonic()
                produce(traffic, producer, topics=names, progress=advance)
        finally:
            producer.close(timeout=5)
        self.signals.check()
        self.say(f"simulate: {len(traffic.messages):,} messages from {o.users:,} users over "
                 f"{hours} h produced in {self.elapsed():.1f} s; ground truth: {truth}")
        return len(traffic.messages), truth

    def _until(self, what: str, deadline: float, left: Callable[[], int | None]) -> None:
        """Poll ``left()`` (None: not known yet) until it is 0, at most until ``deadline``."""
        with self.console.status(what) as status:
            while (remaining := left()) != 0:
                self.children.check()
                shown = "not known yet" if remaining is None else f"{remaining:,} messages left"
                if time.monotonic() >= deadline:
                    raise DemoError(
                        f"{what} did not finish within {self.options.timeout_s:.0f} s "
                        f"({shown}); see the logs in {self.logs} or raise --timeout")
                status.update(f"{what}: {shown}")
                time.sleep(_POLL_S)

    def catch_up(self, deadline: float) -> None:
        """Wait for the workers, stop them and the sink, then store what the sink has not."""
        assert self.sink is not None  # noqa: S101 - start_processes ran
        hint = "or raise --timeout"
        admin = make_admin(self.settings)
        try:
            self._until("workers deciding", deadline, lambda: worker_lag(admin, self.settings))
            self.say(f"workers: every message decided (+{self.elapsed():.1f} s)")
            for child in self.children.started:  # nothing left to decide: free the CPU
                self.children.terminate(child)  # the sink commits its batch and publishes
            self.children.finished(self.sink, deadline, hint)
            if sink_lag(admin, self.settings, self.policy) > 0:
                # Stopped mid-way: a sink that exits once caught up stores the rest.
                once = self.children.start("sink-catchup", "sink", "--shard", "0/1", "--once")
                self.children.finished(once, deadline, hint)
                if (left := sink_lag(admin, self.settings, self.policy)) > 0:
                    raise DemoError(f"the sink stored all but {left:,} messages; see "
                                    f"{once.log} and {self.sink.log}")
        finally:
            admin.close()
        self.say(f"sink: every record stored (+{self.elapsed():.1f} s)")

    def publish(self) -> Path:
        """``sink publish``: analytics.duckdb from the sink's database."""
        from pipeline.sink.publish import publish_offline
        from pipeline.sink.target import AnalyticsTarget

        target = AnalyticsTarget.from_settings(self.settings)
        publish_offline(self.settings.data_dir, 1, self.policy.k_threshold, analytics=target)
        return target.path

    def cleanup(self) -> None:
        """Stop what this run started: its processes, and the broker if it started it."""
        with self.signals.held():
            self.children.stop_all(_STOP_GRACE_S)
            if self.children.started:
                names = ", ".join(c.name for c in self.children.started)
                self.say(f"stopped what the demo started: {names}")
            if self.broker_started:
                local_broker.stop(self.settings)
                self.say("broker: stopped (the demo had started it)")


def run_demo(
    settings: Settings, options: DemoOptions, console: Console,
    on_published: Callable[[DemoResult], None] | None = None,
) -> DemoResult:
    """Run the whole demo; ``on_published`` runs (e.g. prints the report) before cleanup.

    Call it from the main thread: it handles SIGINT and SIGTERM itself until it returns.

    Raises:
        UsageError: a worker count the partitions cannot serve.
        DemoError: a process died, or the pipeline did not catch up within the timeout.
        Interrupted: SIGINT or SIGTERM (after the cleanup).
        PipelineError: broker, topics or keys failed (their own message).
    """
    if not 1 <= options.workers <= settings.partitions:
        raise UsageError(f"--workers must be between 1 and the partition count "
                         f"({settings.partitions}), got {options.workers}")
    demo = Demo(settings, options, console)
    demo.signals.install()
    try:
        for step in (demo.broker, demo.topics, demo.keys, demo.start_processes):
            step()
            demo.signals.check()
        messages, truth = demo.simulate()
        demo.catch_up(time.monotonic() + options.timeout_s)
        analytics = demo.publish()
        result = DemoResult(messages, demo.elapsed(), analytics, truth, demo.logs)
        demo.signals.check()
        if on_published is not None:
            on_published(result)
        return result
    except Exception as exc:
        if demo.signals.received is not None:  # a library turned the interruption into an error
            raise Interrupted(demo.signals.received) from exc
        if isinstance(exc, KafkaError):
            raise DemoError(f"Kafka failed during the demo ({type(exc).__name__}: "
                            f"{str(exc).strip()[:200]}); see the logs in {demo.logs}") from None
        raise
    finally:
        try:
            demo.cleanup()
        finally:
            demo.signals.restore()
