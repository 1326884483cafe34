#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run): setup, a private test broker on
# 127.0.0.1:19092 with data in ./build/test-data, pytest (unit + integration), broker stopped
# on exit whatever happens. Extra arguments go to pytest. Never touches the broker on 9092.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

mkdir -p build
# One run at a time per checkout: a second run would stop and wipe the first one's broker.
exec 9>build/test.lock
if ! flock -w 1800 9; then
    echo "test.sh: another test run holds build/test.lock for 30 min; giving up" >&2
    exit 1
fi

bash scripts/setup.sh
# Headless Chromium + chromedriver for the browser tests (Debian packages; skipped if present).
bash scripts/setup-browser.sh

export PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=${TEST_BOOTSTRAP_SERVERS:-127.0.0.1:19092}
export PRIVACY_PIPELINE_DATA_DIR=$ROOT/build/test-data
# The test broker checks retention and compaction every second (Kafka: 5 min and 15 s), so
# the erasure-timeline tests see Kafka remove data within seconds; users keep Kafka's defaults.
export PRIVACY_PIPELINE_BROKER_HOUSEKEEPING_MS=${PRIVACY_PIPELINE_BROKER_HOUSEKEEPING_MS:-1000}
# Consumer groups form at once (Kafka, and the local broker for users: 3 s to gather members).
export PRIVACY_PIPELINE_BROKER_REBALANCE_DELAY_MS=${PRIVACY_PIPELINE_BROKER_REBALANCE_DELAY_MS:-0}
CLI=$ROOT/.venv/bin/privacy-pipeline
REPORT=$ROOT/build/pytest-output.txt

stop_broker() {
    "$CLI" broker stop || echo "test.sh: could not stop the test broker" >&2
}

# A broker left over by an interrupted run is stopped before its data is wiped.
"$CLI" broker stop >/dev/null
rm -rf "$PRIVACY_PIPELINE_DATA_DIR"
mkdir -p "$PRIVACY_PIPELINE_DATA_DIR"
trap stop_broker EXIT
"$CLI" broker start

set +e
"$ROOT/.venv/bin/pytest" "$@" 2>&1 | tee "$REPORT"
status=${PIPESTATUS[0]}
set -e

stop_broker
trap - EXIT
if [[ $status -eq 5 ]]; then
    echo "test.sh: pytest collected no tests; that is a failure" >&2
    status=1
fi
summary=$(grep -E '(passed|failed|error|errors|skipped|no tests ran).* in [0-9.]+s' "$REPORT" | tail -n 1 || true)
echo "pytest: ${summary:-no summary line (see $REPORT)}"
exit "$status"
