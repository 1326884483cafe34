#!/usr/bin/env bash
# Rebuild pipeline/collector/static/tracker.min.js from tracker.js with terser (npm registry,
# pinned; run by hand after editing the source, then commit both). Tests never run it: they
# check the committed output's header names the current source's sha256 (stale build = fail).
set -euo pipefail
cd "$(dirname "$0")/../pipeline/collector/static"
TERSER=${TERSER:-"npm exec --yes --package=terser@5.51.2 -- terser"}
version=$(sed -n "s/.*var VERSION = '\([^']*\)'.*/\1/p" tracker.js)
digest=$(sha256sum tracker.js | cut -c1-64)
body=$($TERSER tracker.js --compress passes=2 --mangle --ecma 2017)
printf '/*! privacy-pipeline tracker %s src-sha256:%s */\n%s\n' "$version" "$digest" "$body" \
    >tracker.min.js
echo "tracker.min.js: $(wc -c <tracker.min.js) bytes, $(gzip -9c tracker.min.js | wc -c) gzipped"
