"""An isolated pipeline on a shared broker: own topic prefix, data directory and keyring.

The bench runs the real commands (``privacy-pipeline worker``, ``sink``, ``keys``) as
subprocesses under this sandbox's environment, so what it measures is what operators run.
Its topics, worker group and files are removed by :meth:`Sandbox.cleanup`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from kafka.errors import KafkaError

from pipeline.bench.exceptions import BenchError
from pipeline.bench.procstats import Usage, stop
from pipeline.kafka import make_admin
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.topics import TopicNames, all_specs, ensure_topics

CLI = [sys.executable, "-m", "pipeline.cli"]
_CLI_TIMEOUT_S = 120.0


class Sandbox:
    """One isolated pipeline: prefix, data dir, environment of its subprocesses."""

    def __init__(self, base: Settings, data_dir: Path, store: str = "rocksdb://",
                 extra_env: dict[str, str] | None = None) -> None:
        """Args:
        base: settings of the caller (bootstrap servers, partitions, policy).
        data_dir: a fresh directory for the keyring, worker tables and DuckDB files.
        store: the workers' table store (``rocksdb://`` is the production default).
        extra_env: more ``PRIVACY_PIPELINE_*`` variables for every subprocess.
        """
        self.prefix = f"bench-{uuid.uuid4().hex[:10]}."
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "PRIVACY_PIPELINE_TOPIC_PREFIX": self.prefix,
            "PRIVACY_PIPELINE_DATA_DIR": str(data_dir),
            "PRIVACY_PIPELINE_ANALYTICS_DIR": str(data_dir.with_name(data_dir.name + "-analytics")),
            "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": base.bootstrap_servers,
            "PRIVACY_PIPELINE_PARTITIONS": str(base.partitions),
            "PRIVACY_PIPELINE_WORKER_STORE": store,
            "PRIVACY_PIPELINE_ACTOR": "bench",
            **(extra_env or {}),
        }
        if base.policy is not None:
            self.env["PRIVACY_PIPELINE_POLICY"] = str(base.policy)
        self.settings = Settings.from_env(self.env)
        self.names = TopicNames.from_settings(self.settings)
        """Every topic and group name of this sandbox (under its prefix)."""
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def analytics_path(self) -> Path:
        """The ``analytics.duckdb`` this sandbox's sink publishes."""
        return self.settings.analytics_directory / "analytics.duckdb"

    @property
    def group(self) -> str:
        """The workers' consumer group (the faust app id)."""
        return self.names.worker_group

    def setup(self) -> None:
        """Create the topics and the keyring.

        Raises:
            BenchError: ``keys init`` failed (its message is included).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        purposes = load_policy(self.settings.policy).purposes
        admin = make_admin(self.settings)
        try:
            # The worker changelogs too: the worker never creates topics (preflight refuses).
            specs = all_specs(self.settings, purposes)
            ensure_topics(admin, specs)
        finally:
            admin.close()
        done = self.cli("keys", "init")
        if done.returncode != 0:
            raise BenchError(f"`keys init` failed: {done.stderr.strip()[-300:]}")

    def cli(self, *args: str, timeout: float = _CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run one ``privacy-pipeline`` command to completion in the sandbox."""
        return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
            check=False)

    def start(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        """Start a long-running command (own process group), output to ``<log_name>.log``."""
        log = open(self.log_path(log_name), "wb")  # noqa: SIM115 - the child keeps it open
        try:
            proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                [*CLI, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()  # the child holds its own descriptor
        self.procs.append(proc)
        return proc

    def log_path(self, log_name: str) -> Path:
        """Where a started command writes its output."""
        return self.data_dir / f"{log_name}.log"

    def log_tail(self, log_name: str, chars: int = 2000) -> str:
        """The end of a command's output (for error messages)."""
        path = self.log_path(log_name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> Usage:
        """Stop one started command (SIGTERM, then SIGKILL) and return its usage."""
        return stop(proc, timeout)

    def cleanup(self, keep_files: bool = False) -> None:
        """Stop every command still running, delete the topics, the group and the files."""
        try:
            for proc in self.procs:
                if proc.returncode is None and proc.poll() is None:
                    stop(proc, 20.0)
            self._delete_topics()
        finally:
            if not keep_files:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                shutil.rmtree(self.settings.analytics_directory, ignore_errors=True)

    def _delete_topics(self) -> None:
        admin = make_admin(self.settings)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                admin.delete_topics(mine, raise_errors=False)
            with contextlib.suppress(KafkaError):  # no group when no worker ever joined
                admin.delete_groups([self.group])
        finally:
            admin.close()
