#!/usr/bin/env bash
# Stop the local broker started by start.sh (same KAFKA_PORT / KAFKA_RUN_DIR).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${KAFKA_PORT:-9092}"
run_dir="${KAFKA_RUN_DIR:-$here/target/run-$port}"
if [ ! -f "$run_dir/pid" ] || ! kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; then
  echo "kafka: not running on port $port" >&2
  exit 0
fi
pid="$(cat "$run_dir/pid")"
kill "$pid"
for _ in $(seq 1 120); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$run_dir/pid"; echo "kafka: stopped" >&2; exit 0; }
  sleep 0.25
done
kill -9 "$pid" 2>/dev/null || true
rm -f "$run_dir/pid"
echo "kafka: killed after 30 s" >&2
