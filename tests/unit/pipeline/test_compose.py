"""docker-compose.yml: Kafka reachable from the host on loopback only; no keys in the collector.

There is no Docker engine in CI: the file is parsed as YAML (merge keys resolved as compose
does) and its security-relevant parts are asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _mounts(service: dict[str, Any]) -> list[str]:
    return [str(v).split(":")[0] for v in service.get("volumes", [])]


def test_every_published_port_is_bound_to_loopback_except_the_collector() -> None:
    services = _compose()["services"]
    kafka_ports = [str(p) for p in services["kafka"]["ports"]]
    assert kafka_ports and all(p.startswith("127.0.0.1:") for p in kafka_ports)
    for name, service in services.items():
        if name != "collector":
            assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", [])), name


def test_the_collector_mounts_no_volume() -> None:
    services = _compose()["services"]
    assert services["collector"]["volumes"] == []
    for name in ("worker", "sink", "init"):
        assert "pipeline-data" in _mounts(services[name]), name


def test_only_the_sink_sees_the_analysts_volume_and_it_is_not_the_data_volume() -> None:
    services = _compose()["services"]
    with_analytics = sorted(n for n, s in services.items() if "analytics" in _mounts(s))
    assert with_analytics == ["sink"]
    env = services["sink"]["environment"]
    assert env["PRIVACY_PIPELINE_ANALYTICS_DIR"] == "/analytics" != env["PRIVACY_PIPELINE_DATA_DIR"]
    assert set(_compose()["volumes"]) == {"kafka-data", "pipeline-data", "analytics"}


def test_the_image_declares_no_volume_and_keeps_its_directories_private() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "\nVOLUME" not in text
    assert "chmod 0700 /data /analytics" in text
