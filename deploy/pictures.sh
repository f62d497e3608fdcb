#!/usr/bin/env bash
# Look at the pictures in a real browser: renders the demo's discovery page and journey map, and a planted
# "3 of 5" history's discovery page, then takes full-page screenshots with headless Chromium into
# docs/pictures/. Needs /usr/bin/chromium (Debian: apt-get install chromium). `make pictures`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z "$CHROMIUM" ]]; then
  echo "pictures: no chromium on PATH (Debian: apt-get install chromium; or set CHROMIUM=/path)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$BIN/momentstream demo --customers 3000 --out "$out/demo" -q > /dev/null
$BIN/python - "$out" <<'PY'
import sys
from pathlib import Path
from momentstream.cli.commands import main
from momentstream.sim.planted import plant

out = Path(sys.argv[1])
planted = plant(out / "k_of_n.jsonl", 2001, shape="at_least")
main(["discover", str(out / "k_of_n.jsonl"), "--outcome", planted.outcome, "--within", "14d", "--intervention",
      planted.intervention, "-o", str(out / "k_of_n.yaml"), "--plot", str(out / "k_of_n.html"), "-q"])
PY
shoot() {  # page, png, height (a window tall enough for the whole page), width (default 900)
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$out/profile" --hide-scrollbars \
    --window-size="${4:-900},$3" --screenshot="$2" "file://$1" 2> /dev/null
  echo "pictures: $2"
}
shoot "$out/demo/discovery.html" docs/pictures/discover_demo.png 2000
shoot "$out/k_of_n.html" docs/pictures/discover_3_of_5.png 1320
shoot "$out/demo/journeys.html" docs/pictures/journeys_demo.png 900 1240
