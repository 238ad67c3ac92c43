#!/usr/bin/env bash
# `make run`: a local Kafka, the scorer worker and the simulator, with a live score table.
#
# Starts Kafka (unless a broker is already running: then it is used and left running), the
# scorer worker, waits for its /health, runs the simulator in its demo mode (30 days of
# history for 8 organisations, 6 of them in one peer group so its benchmark is published, then
# live traffic in which one organisation's Reach drops so an alert fires) and prints the
# organisations' scores every 3 s until Ctrl-C (or, with RUN_LIVE_MINUTES, until the simulator
# ends). On exit it stops everything it started, by pid.
#
# Environment:
#   ENGAGEMENT_WEB_PORT   scorer web port                          (default 6066)
#   RUN_LIVE_MINUTES      minutes of live traffic after backfill  (default: until Ctrl-C;
#                         a number bounds the run, 0 = no live traffic)
#   RUN_DROP_AFTER        seconds of live traffic before the demo's drop (default 90)
#   RUN_ORGS RUN_DAYS RUN_RATE RUN_SEED   simulator knobs          (default 8 30 20 42)
#   KAFKA_PORT            broker port                              (default 9092)
# Logs and pids: .run/scorer.log, .run/simulator.log, .run/*.pid
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUN_DIR=.run
PY=.venv/bin/python
KAFKA=(bash deploy/kafka/kafka.sh)
WEB_PORT=${ENGAGEMENT_WEB_PORT:-6066}
KAFKA_PORT=${KAFKA_PORT:-9092}
LIVE_MINUTES=${RUN_LIVE_MINUTES:-}
DROP_AFTER=${RUN_DROP_AFTER:-90}
ORGS=${RUN_ORGS:-8}
DAYS=${RUN_DAYS:-30}
RATE=${RUN_RATE:-20}
SEED=${RUN_SEED:-42}
API="http://127.0.0.1:$WEB_PORT"
export KAFKA_PORT ENGAGEMENT_WEB_PORT=$WEB_PORT
export ENGAGEMENT_KAFKA_BOOTSTRAP=${ENGAGEMENT_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}

KAFKA_STARTED=0
WORKER_PID=""
SIM_PID=""
CLEANED=0

log() { printf '[run] %s\n' "$*" >&2; }
die() {
  printf '[run] ERROR: %s\n' "$*" >&2
  exit 1
}

# Own session for the children: Ctrl-C reaches only this script, which then stops them in
# order (simulator, scorer, Kafka) instead of all at once.
if command -v setsid >/dev/null; then DETACH=(setsid); else DETACH=(); fi

stop_pid() { # name pid grace-seconds
  local name=$1 pid=$2 grace=$3 n=0
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((n < grace * 10)); do
    sleep 0.1
    n=$((n + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name still running after ${grace} s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM
  stop_pid simulator "$SIM_PID" 10
  stop_pid scorer "$WORKER_PID" 30
  rm -f "$RUN_DIR/simulator.pid" "$RUN_DIR/scorer.pid"
  if ((KAFKA_STARTED)); then
    "${KAFKA[@]}" stop || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------------------------ prerequisites
command -v curl >/dev/null || die "curl not found"
if [[ ! -x "$PY" ]]; then
  log ".venv missing: make install"
  make install
fi
mkdir -p "$RUN_DIR"

# ------------------------------------------------------------------------------ Kafka
if "${KAFKA[@]}" status >/dev/null 2>&1; then
  log "Kafka already running on 127.0.0.1:$KAFKA_PORT: using it (and leaving it running)"
elif port_open "$KAFKA_PORT"; then
  log "a broker already listens on 127.0.0.1:$KAFKA_PORT: using it (and leaving it running)"
else
  KAFKA_STARTED=1
  "${DETACH[@]}" "${KAFKA[@]}" start
fi

# ------------------------------------------------------------------------------ scorer
# Input topics first: a worker that starts before they exist ignores them until its next
# metadata refresh (minutes), so the first scores would be late.
"$PY" -m engagement_simulator --topics-only >"$RUN_DIR/topics.log" 2>&1 \
  || { cat "$RUN_DIR/topics.log" >&2; die "cannot create the input topics"; }
if curl -fsS -m 2 "$API/health" >/dev/null 2>&1 || port_open "$WEB_PORT"; then
  die "port $WEB_PORT is already in use (another scorer?): set ENGAGEMENT_WEB_PORT"
fi
"${DETACH[@]}" "$PY" -m engagement_scorer worker >"$RUN_DIR/scorer.log" 2>&1 &
WORKER_PID=$!
echo "$WORKER_PID" >"$RUN_DIR/scorer.pid"
log "scorer worker started (pid $WORKER_PID, log $RUN_DIR/scorer.log), waiting for $API/health"
deadline=$((SECONDS + 120))
until curl -fsS -m 2 "$API/health" >/dev/null 2>&1; do
  if ! kill -0 "$WORKER_PID" 2>/dev/null; then
    tail -n 30 "$RUN_DIR/scorer.log" >&2 || true
    die "the scorer worker exited during startup (see $RUN_DIR/scorer.log)"
  fi
  ((SECONDS < deadline)) || die "the scorer did not answer $API/health within 120 s"
  sleep 0.5
done
log "scorer is up"

# ------------------------------------------------------------------------------ simulator
if [[ -n "$LIVE_MINUTES" ]]; then
  LIVE=(--live-minutes "$LIVE_MINUTES")
  LIVE_TEXT="$LIVE_MINUTES min"
else
  LIVE=(--live-until-stopped)
  LIVE_TEXT="until Ctrl-C"
fi
"${DETACH[@]}" "$PY" -m engagement_simulator --orgs "$ORGS" --days "$DAYS" --seed "$SEED" \
  "${LIVE[@]}" --rate "$RATE" --demo --demo-drop-after "$DROP_AFTER" --no-progress \
  >"$RUN_DIR/simulator.log" 2>&1 &
SIM_PID=$!
echo "$SIM_PID" >"$RUN_DIR/simulator.pid"
log "simulator started (pid $SIM_PID, log $RUN_DIR/simulator.log): $ORGS organisations," \
  "$DAYS days of history, then live at $RATE events/s $LIVE_TEXT;" \
  "one organisation's Reach drops ${DROP_AFTER} s into the live phase"

# ------------------------------------------------------------------------------ score table
# One snapshot of the scorer's scores per call: services/engagement_simulator/demo_table.py.
CLEAR=0
[[ -t 1 ]] && CLEAR=1

show_table() { "$PY" -m engagement_simulator.demo_table "$API" "$CLEAR" "$1" || true; }

while kill -0 "$SIM_PID" 2>/dev/null; do
  show_table "simulator running, Ctrl-C to stop"
  sleep 3
done
sim_status=0
wait "$SIM_PID" || sim_status=$?
SIM_PID=""
sleep 3 # let the scorer catch up with the last events
show_table "simulator finished"
grep '^simulator:' "$RUN_DIR/simulator.log" | tail -n 1 || true
if ((sim_status != 0)); then
  tail -n 20 "$RUN_DIR/simulator.log" >&2 || true
  die "the simulator exited with status $sim_status (see $RUN_DIR/simulator.log)"
fi
