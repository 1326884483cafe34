"""Extracting the lines that explain a failed broker start."""

from __future__ import annotations

from pathlib import Path

from pipeline.broker.logs import relevant_lines, rotate

FAILED_START = """\
[2026-01-01 10:00:00,001] INFO Registered Log4jController MBean (kafka.utils.Log4jController)
[2026-01-01 10:00:00,500] INFO [ControllerServer id=1] Starting (kafka.server.ControllerServer)
[2026-01-01 10:00:01,000] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)
java.lang.RuntimeException: Invalid cluster.id in meta.properties: MkU3OEVBNTcwNTJENDM2Qg
\tat kafka.server.KafkaRaftServer.initializeLogDirs(KafkaRaftServer.scala:150)
\tat kafka.Kafka$.main(Kafka.scala:71)
"""


def test_keeps_error_lines_without_timestamps_loggers_or_ids(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text(FAILED_START)
    line = relevant_lines(log)
    assert line == (
        "ERROR Exiting Kafka due to fatal exception | "
        "java.lang.RuntimeException: Invalid cluster.id in meta.properties: <id>"
    )


def test_jvm_launch_failure_shows_the_cause_not_the_generic_words(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text(
        "Invalid maximum heap size: -Xmx12zz\n"
        "Error: Could not create the Java Virtual Machine.\n"
        "Error: A fatal exception has occurred. Program will exit.\n"
    )
    assert relevant_lines(log) == "Invalid maximum heap size: -Xmx12zz"


def test_without_error_lines_falls_back_to_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("one\ntwo\nthree\nfour\n")
    assert relevant_lines(log) == "two | three | four"


def test_missing_or_empty_log(tmp_path: Path) -> None:
    assert relevant_lines(tmp_path / "absent.log") == "no log output"
    (tmp_path / "empty.log").write_text("")
    assert relevant_lines(tmp_path / "empty.log") == "no log output"


def test_rotate_keeps_one_previous_log(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    rotate(log)  # nothing to rotate yet
    log.write_text("first")
    rotate(log)
    log.write_text("second")
    rotate(log)
    assert not log.exists()
    assert (tmp_path / "broker.log.1").read_text() == "second"
