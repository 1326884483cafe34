"""A small ``analytics.duckdb`` with the tables of DESIGN.md section 8 and known rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

#: DESIGN.md section 8, column for column.
DDL = """
CREATE TABLE navigation_hourly (hour TIMESTAMP, app VARCHAR, platform VARCHAR, screen VARCHAR,
    views BIGINT, visitors BIGINT, anonymous_views BIGINT);
CREATE TABLE navigation_daily (day DATE, app VARCHAR, platform VARCHAR, screen VARCHAR,
    views BIGINT, visitors BIGINT, anonymous_views BIGINT);
CREATE TABLE geolocation_hourly (hour TIMESTAMP, cell VARCHAR, users BIGINT, events BIGINT);
CREATE TABLE campaign_daily (day DATE, app VARCHAR, campaign VARCHAR, views BIGINT,
    visitors BIGINT);
CREATE TABLE consent_daily (day DATE, purpose VARCHAR, granted BIGINT, denied BIGINT,
    withdrawn BIGINT);
CREATE TABLE processing_daily (day DATE, stream VARCHAR, purpose VARCHAR, outcome VARCHAR,
    events BIGINT);
"""

#: A screen name that is HTML and rich markup at once: it must come out as text.
HOSTILE = '<script>alert("x")</script>[bold]&amp;'

ROWS = """
INSERT INTO navigation_daily VALUES
 ('2026-04-01', 'mm-app', 'ios', 'home', 120, 40, 0),
 ('2026-04-01', 'mm-app', 'android', 'home', 80, 30, 0),
 ('2026-04-01', 'mm-app', 'ios', 'contracts', 50, 20, 0),
 ('2026-04-02', 'mm-web', 'web', 'home', 60, 25, 0),
 ('2026-04-02', 'mm-web', 'web', 'claims', 70, 12, 0),
 ('2026-04-02', 'mm-web', 'web', $$HOSTILE$$, 5, 5, 0);
INSERT INTO navigation_hourly VALUES
 ('2026-04-01 10:00:00', 'mm-app', 'ios', 'home', 120, 40, 0);
INSERT INTO geolocation_hourly VALUES
 ('2026-04-01 10:00:00', 'u09tv', 6, 9), ('2026-04-01 11:00:00', 'u09tv', 5, 5),
 ('2026-04-01 11:00:00', 'u09tw', 7, 8);
INSERT INTO campaign_daily VALUES ('2026-04-01', 'mm-app', 'spring', 30, 10);
INSERT INTO consent_daily VALUES
 ('2026-04-01', 'audience_measurement', 60, 40, 5),
 ('2026-04-02', 'audience_measurement', 30, 20, 5),
 ('2026-04-01', 'advertising', 10, 90, 0);
INSERT INTO processing_daily VALUES
 ('2026-04-01', 'navigation', 'audience_measurement', 'kept', 300),
 ('2026-04-01', 'navigation', 'audience_measurement', 'dropped_no_consent', 150),
 ('2026-04-01', 'navigation', 'audience_measurement', 'dropped_withdrawn', 50),
 ('2026-04-01', 'navigation', 'advertising', 'kept', 100),
 ('2026-04-01', 'navigation', 'advertising', 'dropped_no_consent', 400),
 ('2026-04-02', 'geolocation', 'geolocation', 'dropped_late', 7),
 ('2026-04-02', 'navigation', 'all', 'invalid', 3),
 ('2026-04-02', 'consent', 'all', 'invalid', 2),
 ('2026-04-02', 'consent', 'advertising', 'applied', 99);
"""


def build_analytics(path: Path, rows: bool = True) -> Path:
    """Create ``path`` with the section 8 tables (and the known rows unless ``rows`` is False)."""
    conn = duckdb.connect(str(path))
    try:
        conn.execute(DDL)
        if rows:
            conn.execute(ROWS.replace("$$HOSTILE$$", "'" + HOSTILE.replace("'", "''") + "'"))
    finally:
        conn.close()
    return path


@pytest.fixture
def analytics(tmp_path: Path) -> Path:
    """``<tmp>/analytics.duckdb`` with the known rows."""
    return build_analytics(tmp_path / "analytics.duckdb")
