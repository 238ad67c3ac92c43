#!/usr/bin/env bash
# `make bench`: throughput (against a bare consumer on the same records), latency at half the
# maximum rate, memory, recovery and the standby's cost of the scorer worker; 3 runs, median and
# spread (docs/performance.md describes the method).
#
# Starts the local Kafka broker when it is not running (and stops it at the end only in that
# case), then runs scripts/bench.py, which pins the consumers to one core and the broker to
# another (taskset). Extra arguments (or BENCH_ARGS) go to bench.py, e.g.
#   bash scripts/bench.sh --events 30000 --phases throughput --runs 1   # a quick smoke
#   bash scripts/bench.sh --accounts 200000 --phases memory
# BENCH_PY picks another script run the same way (`make soak`: scripts/soak.py).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

KAFKA=(bash deploy/kafka/kafka.sh)
PY=.venv/bin/python
[[ -x "$PY" ]] || { echo "[bench] $PY missing: run 'make install' first" >&2; exit 1; }

started_kafka=0
cleanup() {
  if [[ "$started_kafka" == 1 ]]; then
    echo "[bench] stopping the Kafka broker this run started"
    "${KAFKA[@]}" stop || true
  fi
}
trap cleanup EXIT

kafka_out=$("${KAFKA[@]}" start 2>&1) || { printf '%s\n' "$kafka_out" >&2; exit 1; }
printf '%s\n' "$kafka_out"
# kafka.sh prints "started pid N" only when it launched the broker itself; "already running"
# (or "running ... waiting") means someone else owns it and it stays up after the bench.
if grep -q "started pid" <<<"$kafka_out"; then
  started_kafka=1
else
  echo "[bench] Kafka was already running: it is left running afterwards"
fi

export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT:-9092}"
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
"$PY" "${BENCH_PY:-scripts/bench.py}" ${BENCH_ARGS:-} "$@"
