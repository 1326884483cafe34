#!/usr/bin/env bash
# Idempotent setup: virtualenv .venv with the package (editable) and dev tools, plus the
# Apache Kafka server jars (Maven Central, cached under PRIVACY_PIPELINE_KAFKA_CACHE).
# Needs only python3.11, java 17+, mvn. Re-running is cheap: pip runs again only when
# pyproject.toml changed, and cached jars are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=.venv
STAMP=$VENV/.installed-pyproject.sha256

for tool in "$PYTHON" java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup: $tool not found on PATH (needs Python 3.11, Java 17+, Maven)" >&2
        exit 1
    fi
done

if [[ ! -x $VENV/bin/python ]]; then
    echo "setup: creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi

want=$(sha256sum pyproject.toml | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [[ $want != "$have" ]]; then
    echo "setup: installing the package and dev tools into $VENV"
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    echo "$want" >"$STAMP"
fi

"$VENV/bin/python" - <<'PY'
from pipeline.broker import fetch_jars
from pipeline.settings import Settings

libs, fetched = fetch_jars(Settings.from_env(), notify=print)
print(f"setup: Kafka jars {'fetched into' if fetched else 'cached in'} {libs}")
PY
