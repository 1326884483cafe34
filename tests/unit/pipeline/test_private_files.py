"""Private files whatever the umask; the analysts' directory outside the data directory."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.broker import process
from pipeline.errors import ConfigError
from pipeline.private import open_private, private_dir, restrict_umask
from pipeline.settings import Settings
from pipeline.sink.publish import write_analytics
from pipeline.sink.target import AnalyticsTarget


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_restrict_umask_adds_group_and_other_bits(loose_umask: None) -> None:
    assert restrict_umask() == 0o022
    assert os.umask(0o022) == 0o077
    os.umask(0o027)
    assert restrict_umask() == 0o027 and os.umask(0o022) == 0o077


def test_private_dir_creates_0700_and_tightens_an_existing_dir(
    tmp_path: Path, loose_umask: None
) -> None:
    created = private_dir(tmp_path / "a" / "b")
    assert _mode(created) == _mode(created.parent) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)  # noqa: S103 - the loose directory an older version left
    private_dir(loose)
    assert _mode(loose) == 0o700
    fd = open_private(loose / "f")
    os.close(fd)
    assert _mode(loose / "f") == 0o600


def test_the_broker_jvm_is_launched_with_umask_077(tmp_path: Path, loose_umask: None) -> None:
    log = tmp_path / "out.log"
    proc = process.launch(["sh", "-c", "umask; touch made"], log, tmp_path)
    assert proc.wait(timeout=10) == 0
    assert log.read_text().strip() == "0077"
    assert _mode(tmp_path / "made") == 0o600 and _mode(log) == 0o600


def test_analytics_dir_defaults_beside_the_data_dir(tmp_path: Path) -> None:
    s = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path / "data")})
    assert s.analytics_directory == tmp_path / "data-analytics"


@pytest.mark.parametrize("inside", ["data", "data/analytics", "."])
def test_analytics_dir_overlapping_the_data_dir_is_refused(tmp_path: Path, inside: str) -> None:
    s = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path / "data"),
                           "PRIVACY_PIPELINE_ANALYTICS_DIR": str(tmp_path / inside)})
    with pytest.raises(ConfigError, match="overlaps the data directory"):
        _ = s.analytics_directory


def test_group_readable_is_a_boolean_setting() -> None:
    assert Settings.from_env({"PRIVACY_PIPELINE_ANALYTICS_GROUP_READABLE": "true"}) \
        .analytics_group_readable
    with pytest.raises(ConfigError, match="ANALYTICS_GROUP_READABLE"):
        Settings.from_env({"PRIVACY_PIPELINE_ANALYTICS_GROUP_READABLE": "maybe"})


@pytest.mark.parametrize(("group", "dir_mode", "file_mode"),
                         [(False, 0o700, 0o600), (True, 0o750, 0o640)])
def test_published_file_modes(tmp_path: Path, loose_umask: None, group: bool, dir_mode: int,
                              file_mode: int) -> None:
    from pipeline.sink.published import read_partials
    from pipeline.sink.schema import open_state

    conn = open_state(tmp_path / "data" / "pipeline.duckdb")
    partials = read_partials(conn)
    conn.close()
    target = AnalyticsTarget(tmp_path / "analytics", group_readable=group)
    write_analytics(tmp_path / "data", 5, "t", partials=partials, analytics=target)
    assert _mode(target.directory) == dir_mode and _mode(target.path) == file_mode
    assert not (tmp_path / "data" / "analytics.duckdb").exists()
    assert _mode(tmp_path / "data") == 0o700
