"""Services fail fast and say why: ``worker``, ``sink`` and ``collector`` run as real processes.

Each failure must be one line naming what to run, exit status 1, within 10 s of the start of
the process (imports included), and nothing is created on the broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from pipeline import topics
from pipeline.collector.auth import hash_key, new_key
from pipeline.policy import load_policy
from pipeline.settings import Settings

BOUND_S = 10.0
CLI = [sys.executable, "-c", "from pipeline.cli import main; main()"]
SERVICES = {
    "worker": ["worker"],
    "sink": ["sink", "--once"],
    "collector": ["collector", "--port", "9"],  # never bound: preflight fails before
}


@pytest.fixture
def prefix(admin: KafkaAdminClient) -> Iterator[str]:
    """A fresh topic prefix; every topic under it is deleted after the test."""
    value = f"test-pf-{uuid.uuid4().hex[:10]}."
    yield value
    mine = [t for t in admin.list_topics() if t.startswith(value)]
    if mine:
        admin.delete_topics(mine, raise_errors=False)


def service_env(settings: Settings, prefix: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_PIPELINE_")}
    env.update({
        "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "PRIVACY_PIPELINE_TOPIC_PREFIX": prefix,
        "PRIVACY_PIPELINE_DATA_DIR": str(data_dir),
        "PRIVACY_PIPELINE_COLLECTOR_KEYS": f"pf-app:{hash_key(new_key())}",
        "PRIVACY_PIPELINE_ACTOR": "preflight-test",
    })
    env.update(extra)
    return env


def run_service(service: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str],
                                                             float]:
    start = time.monotonic()
    done = subprocess.run([*CLI, *SERVICES[service]], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    return done, time.monotonic() - start


def assert_fast_one_line(done: subprocess.CompletedProcess[str], took: float,
                         *fragments: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("privacy-pipeline: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert took < BOUND_S, f"{took:.1f} s"
    print(f"preflight {took:.2f} s: {lines[0]}")


def create_all(admin: KafkaAdminClient, prefix: str, partitions: int, skip: str = "") -> None:
    sized = Settings.from_env({"PRIVACY_PIPELINE_PARTITIONS": str(partitions),
                               "PRIVACY_PIPELINE_TOPIC_PREFIX": prefix})
    specs = topics.all_specs(sized, load_policy(None).purposes)
    topics.ensure_topics(admin, [s for s in specs if s.name != skip])


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_topics(settings: Settings, admin: KafkaAdminClient, prefix: str, tmp_path: Path,
                   service: str) -> None:
    done, took = run_service(service, service_env(settings, prefix, tmp_path))
    assert_fast_one_line(done, took, f"topic {prefix}", "missing: run `privacy-pipeline topics`")
    # Nothing was created under the prefix, by the worker above all.
    assert not [t for t in admin.list_topics() if t.startswith(prefix)]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_wrong_partitions(settings: Settings, admin: KafkaAdminClient, prefix: str,
                          tmp_path: Path, service: str) -> None:
    create_all(admin, prefix, 2)
    env = service_env(settings, prefix, tmp_path, PRIVACY_PIPELINE_PARTITIONS="3")
    done, took = run_service(service, env)
    assert_fast_one_line(done, took, "has 2 partitions, expected 3")


def test_wrong_cleanup_policy(settings: Settings, admin: KafkaAdminClient, prefix: str,
                              tmp_path: Path) -> None:
    # The consent topic as a plain deleting topic: the worker's fence needs it compacted.
    name = prefix + topics.CONSENT
    admin.create_topics({name: {"num_partitions": settings.partitions,
                                "replication_factor": -1, "configs": {}}})
    create_all(admin, prefix, settings.partitions, skip=name)
    done, took = run_service("worker", service_env(settings, prefix, tmp_path))
    assert_fast_one_line(done, took, f"topic {name} has cleanup.policy=delete")


def test_worker_without_keyring(settings: Settings, admin: KafkaAdminClient, prefix: str,
                                tmp_path: Path) -> None:
    create_all(admin, prefix, settings.partitions)
    done, took = run_service("worker", service_env(settings, prefix, tmp_path))
    assert_fast_one_line(done, took, "keyring", "missing: run `privacy-pipeline keys init`")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_refused_connection(settings: Settings, prefix: str, tmp_path: Path,
                            service: str) -> None:
    env = service_env(settings, prefix, tmp_path, PRIVACY_PIPELINE_BOOTSTRAP_SERVERS="127.0.0.1:9")
    done, took = run_service(service, env)
    assert_fast_one_line(done, took, "connection refused", "privacy-pipeline broker start")


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("value", ["", "nohostport"])
def test_bad_bootstrap(settings: Settings, prefix: str, tmp_path: Path, service: str,
                       value: str) -> None:
    env = service_env(settings, prefix, tmp_path, PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=value)
    done, took = run_service(service, env)
    assert_fast_one_line(done, took, "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS")


def test_topics_delete_needs_yes_then_removes_the_prefix(
    settings: Settings, admin: KafkaAdminClient, prefix: str, tmp_path: Path
) -> None:
    env = service_env(settings, prefix, tmp_path)
    made = subprocess.run([*CLI, "topics"], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    expected = {line.split()[1] for line in made.stdout.splitlines()[:-1]}
    assert expected == {t for t in admin.list_topics() if t.startswith(prefix)}
    listed = subprocess.run([*CLI, "topics", "--format", "json"], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    table = {(line.split()[1], int(line.split()[2].strip("("))) for line in
             made.stdout.splitlines()[:-1]}
    assert {(r["topic"], r["partitions"]) for r in rows} == table
    assert {r["state"] for r in rows} == {"exists"}
    refused = subprocess.run([*CLI, "topics", "--delete"], env=env, capture_output=True,
                             text=True, timeout=60, check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert expected <= set(admin.list_topics())
    gone = subprocess.run([*CLI, "topics", "--delete", "--yes"], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert f"{len(expected)} deleted" in gone.stdout
    deadline = time.monotonic() + 10
    while [t for t in admin.list_topics() if t.startswith(prefix)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [t for t in admin.list_topics() if t.startswith(prefix)]


def test_services_log_one_startup_line(settings: Settings, admin: KafkaAdminClient, prefix: str,
                                       tmp_path: Path) -> None:
    create_all(admin, prefix, settings.partitions)
    env = service_env(settings, prefix, tmp_path)
    subprocess.run([*CLI, "keys", "init"], env=env, capture_output=True, timeout=60, check=True)
    sink = subprocess.run([*CLI, "sink", "--once"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert sink.returncode == 0, sink.stderr
    lines = [line for line in sink.stderr.splitlines() if " INFO sink shard 0/1: " in line]
    assert len(lines) == 1 and settings.bootstrap_servers in lines[0]
    worker = subprocess.Popen([*CLI, "worker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        first = worker.stderr.readline()  # blocks until the line (preflight passed) or exit
        time.sleep(4)  # joins the group meanwhile: nothing below WARNING, no error
    finally:
        worker.terminate()
        rest = worker.communicate(timeout=30)[1]
    assert " INFO worker 1: group " in first and f"{prefix}privacy-pipeline" in first
    assert settings.bootstrap_servers in first
    assert "ERROR" not in rest and "Traceback" not in rest
    # Started after `topics`, the worker created nothing either.
    assert not [t for t in admin.list_topics() if t.startswith(prefix) and "__assignor" in t]
