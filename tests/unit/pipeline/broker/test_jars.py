"""The Kafka jar cache: complete only when every jar of the marker is present."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.broker import jars
from pipeline.errors import ToolMissing
from pipeline.settings import Settings


def cache_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"PRIVACY_PIPELINE_KAFKA_CACHE": str(tmp_path)})


def test_cache_layout_is_versioned(tmp_path: Path) -> None:
    s = cache_settings(tmp_path)
    assert jars.libs_dir(s) == tmp_path / jars.KAFKA_VERSION / "libs"
    assert jars.class_path(s).endswith("libs/*")


def test_complete_needs_marker_and_every_listed_jar(tmp_path: Path) -> None:
    s = cache_settings(tmp_path)
    libs = jars.libs_dir(s)
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.1.1.jar").write_bytes(b"")
    assert not jars.jars_complete(s), "no marker yet: a fetch may have been interrupted"
    marker = libs.parent / "libs.complete"
    marker.write_text("kafka_2.13-4.1.1.jar\nkafka-clients-4.1.1.jar\n")
    assert not jars.jars_complete(s), "a listed jar is missing"
    (libs / "kafka-clients-4.1.1.jar").write_bytes(b"")
    assert jars.jars_complete(s)


def test_cache_hit_does_not_need_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = cache_settings(tmp_path)
    libs = jars.libs_dir(s)
    libs.mkdir(parents=True)
    (libs / "a.jar").write_bytes(b"")
    (libs.parent / "libs.complete").write_text("a.jar\n")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert jars.fetch_jars(s) == (libs, False)


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissing, match="mvn not found on PATH: install Apache Maven"):
        jars.fetch_jars(cache_settings(tmp_path))


def test_pom_ships_in_the_package_with_server_and_log4j2_binding() -> None:
    from importlib import resources

    pom = resources.files("pipeline.broker").joinpath("pom.xml").read_text(encoding="utf-8")
    assert "<artifactId>kafka_2.13</artifactId>" in pom
    assert f"<kafka.version>{jars.KAFKA_VERSION}</kafka.version>" in pom
    assert "log4j-slf4j2-impl" in pom and "log4j-core" in pom
    assert "<artifactId>kafka-tools</artifactId>" not in pom
