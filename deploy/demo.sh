#!/usr/bin/env bash
# `make demo`: the live monitor on this machine. Starts a real Kafka broker (deploy/kafka.sh), a
# worker (`contactmon worker`), and the simulator, which plays last month for the four
# municipalities at a day per SPEED_SECONDS seconds with Heiloo's response norm slipping. Prints
# the URLs; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-out/demo}
KAFKA_PORT=${KAFKA_PORT:-9092}
METRICS_PORT=${METRICS_PORT:-6066}
SPEED_SECONDS=${SPEED_SECONDS:-10}   # wall seconds per simulated day
mkdir -p "$OUT"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  deploy/kafka.sh stop --port "$KAFKA_PORT" || true
}
trap cleanup INT TERM EXIT

deploy/kafka.sh install
deploy/kafka.sh start --port "$KAFKA_PORT"

export CONTACTMON_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT}"
export CONTACTMON_STORE_URL="sqlite:///${PWD}/${OUT}/store.sqlite3"
export CONTACTMON_METRICS_PORT="$METRICS_PORT"
export CONTACTMON_DATA_DIR="${OUT}/worker-data"
export CONTACTMON_CLOCK=event            # the simulator plays history: time follows the events
export CONTACTMON_GROUP_ID="contactmon-demo-$(date +%s)"
export CONTACTMON_EVENTS_TOPIC="contact.events.demo.$(date +%s)"
export CONTACTMON_DLQ_TOPIC="${CONTACTMON_EVENTS_TOPIC}.dlq"

"$BIN/contactmon" worker >"$OUT/worker.log" 2>&1 &
pids+=($!)
echo "demo: worker started (log: $OUT/worker.log)"
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:${METRICS_PORT}/metrics" >/dev/null && break
  sleep 1
done

start=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m-%d)
speed=$((86400 / SPEED_SECONDS))
"$BIN/contactmon" simulate --to kafka --ensure-topics --start "$start" --months 1 --slip heiloo \
  --seed 42 --speed "$speed" >"$OUT/simulate.log" 2>&1 &
pids+=($!)

cat <<MSG

demo: running. Kafka on 127.0.0.1:${KAFKA_PORT}, events topic ${CONTACTMON_EVENTS_TOPIC}
  metrics:  http://127.0.0.1:${METRICS_PORT}/metrics
  a day of ${start:0:7} plays in ${SPEED_SECONDS} s; Heiloo's Fixi responses slip.
  watch:    watch -n2 "curl -s 127.0.0.1:${METRICS_PORT}/metrics | grep -E 'norm_(overdue_items|outcomes_total).*melding-reactie'"
Ctrl-C stops everything.
MSG

while sleep 10; do
  line=$(curl -sf "http://127.0.0.1:${METRICS_PORT}/metrics" \
    | awk '/^contact_norm_outcomes_total\{.*norm="melding-reactie"/ {split($0, a, "municipality=\""); split(a[2], m, "\""); split($0, o, "outcome=\""); split(o[2], q, "\""); v[m[1] "/" q[1]] = $NF} END {for (k in v) printf "%s=%d ", k, v[k]}')
  echo "demo: melding-reactie outcomes: ${line:-none yet}"
done
