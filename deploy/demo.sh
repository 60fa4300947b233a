#!/usr/bin/env bash
# `make demo`: the whole chain live on this machine, fast enough to watch.
#
# Starts a real Kafka broker (deploy/kafka.sh), Alertmanager (deploy/alertmanager.sh), a worker
# (`contactmon worker`) and Prometheus (deploy/prometheus.sh) with the shipped alert rules, and a
# generator of live-stamped Fixi reports for the four municipalities in which Heiloo answers late.
# So that a breach is seen in minutes, not days, the demo shrinks the norm and the waits, not the
# events: melding-reactie is 20 seconds, and every alert's `for:` is 30 seconds (streams/demo.py).
# Within a minute or two Heiloo's page shows in the Alertmanager UI. Ctrl-C stops everything.
#
# What a team lead sees, without Grafana: the overview page of `contactmon overview` (every
# municipality from Prometheus, the firing alerts from Alertmanager), printed first, at
# http://127.0.0.1:6067/overzicht; Heiloo slips there within the first minutes. The worker serves
# the same page for its own municipalities on its metrics port (:6066/overzicht).
#
# DEMO_MODE=history plays last month's simulated events instead (a day per 10 s, real norms, the
# worker on event time): the metrics move as in production, but the alerts need their real `for:`
# and, on old event times, the monitor-blind alerts fire by design.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-out/demo}
MODE=${DEMO_MODE:-live}
KAFKA_PORT=${KAFKA_PORT:-9092}
METRICS_PORT=${METRICS_PORT:-6066}
PROM_PORT=${PROM_PORT:-9090}
AM_PORT=${AM_PORT:-9093}
OVERVIEW_PORT=${OVERVIEW_PORT:-6067}
PAGE_URL="http://127.0.0.1:${OVERVIEW_PORT}/overzicht"
mkdir -p "$OUT"
echo "demo: the overview page will be at ${PAGE_URL} (open it in a browser; it refreshes itself)"

pids=()
cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  deploy/prometheus.sh stop --port "$PROM_PORT" || true
  deploy/alertmanager.sh stop --port "$AM_PORT" || true
  deploy/kafka.sh stop --port "$KAFKA_PORT" || true
  exit "$rc"  # a TERM (not only Ctrl-C) ends the status loop too
}
trap cleanup INT TERM EXIT

deploy/kafka.sh start --port "$KAFKA_PORT" --controller-port "${KAFKA_CONTROLLER_PORT:-9097}"  # 9093 is Alertmanager's
CONTACTMON_AM_GROUP_WAIT=5s CONTACTMON_AM_ALWAYS_OPEN=1 deploy/alertmanager.sh start --port "$AM_PORT"

stamp=$(date +%s)
export CONTACTMON_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT}"
export CONTACTMON_STORE_URL="sqlite:///${PWD}/${OUT}/store-${stamp}.sqlite3"
export CONTACTMON_METRICS_PORT="$METRICS_PORT"
export CONTACTMON_DATA_DIR="${OUT}/worker-data"
export CONTACTMON_GROUP_ID="contactmon-demo-${stamp}"
export CONTACTMON_EVENTS_TOPIC="contact.events.demo.${stamp}"
export CONTACTMON_DLQ_TOPIC="${CONTACTMON_EVENTS_TOPIC}.dlq"
if [[ $MODE == live ]]; then
  "$BIN/python" -m streams.demo norms >"$OUT/norms-fast.yaml"
  "$BIN/python" -m streams.demo rules alerts/contactmon.rules.yml "$OUT/rules-fast.yml" --for 30s
  export CONTACTMON_NORMS_FILE="$OUT/norms-fast.yaml" CONTACTMON_CLOCK=wall CONTACTMON_LATENESS=0
  export CONTACTMON_SWEEP_INTERVAL=1
  rules="${PWD}/${OUT}/rules-fast.yml"
else
  export CONTACTMON_CLOCK=event   # history: time follows the events
  rules="${PWD}/alerts/contactmon.rules.yml"
fi
sed "s|@RULE_FILES@|${rules}|" deploy/prometheus/prometheus.yml >"$OUT/prometheus.yml"

"$BIN/contactmon" worker >"$OUT/worker.log" 2>&1 &
pids+=($!)
echo "demo: worker started (log: $OUT/worker.log)"
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:${METRICS_PORT}/metrics" >/dev/null && break
  sleep 1
done
CONTACTMON_SCRAPE_INTERVAL=2s deploy/prometheus.sh start --port "$PROM_PORT" --config "$OUT/prometheus.yml" \
  --targets "127.0.0.1:${METRICS_PORT}" --alertmanager "127.0.0.1:${AM_PORT}"

"$BIN/contactmon" overview --prometheus "http://127.0.0.1:${PROM_PORT}" \
  --alertmanager "http://127.0.0.1:${AM_PORT}" --port "$OVERVIEW_PORT" --refresh 5 \
  >"$OUT/overview.log" 2>&1 &
pids+=($!)

if [[ $MODE == live ]]; then
  "$BIN/python" -m streams.demo generate --bootstrap-servers "$CONTACTMON_BOOTSTRAP_SERVERS" \
    --topic "$CONTACTMON_EVENTS_TOPIC" --slip heiloo >"$OUT/generator.log" 2>&1 &
  what="live Fixi reports; melding-reactie is 20 s; Heiloo answers after 40 s"
else
  start=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m-%d)
  "$BIN/contactmon" simulate --to kafka --ensure-topics --start "$start" --months 1 --slip heiloo \
    --seed 42 --speed 8640 >"$OUT/simulate.log" 2>&1 &
  what="last month at a day per 10 s; Heiloo's responses slip"
fi
pids+=($!)

cat <<MSG

demo: running ($what)
  overview page:  ${PAGE_URL}   <- start here: all municipalities, the alerts
  worker's page:  http://127.0.0.1:${METRICS_PORT}/overzicht (the municipalities it owns)
  worker metrics: http://127.0.0.1:${METRICS_PORT}/metrics
  Prometheus:     http://127.0.0.1:${PROM_PORT}/alerts
  Alertmanager:   http://127.0.0.1:${AM_PORT}/#/alerts
Ctrl-C stops everything.
MSG

while sleep 10; do
  firing=$(curl -sf "http://127.0.0.1:${AM_PORT}/api/v2/alerts?active=true" \
    | "$BIN/python" -c 'import json,sys; print(", ".join(sorted({a["labels"]["alertname"] + "/" + a["labels"].get("municipality", "-") for a in json.load(sys.stdin)})) or "none")' \
    2>/dev/null || echo "?")
  echo "demo: alerts in Alertmanager: ${firing}"
  echo "demo: overview page: $("$BIN/python" -m streams.demo page "$PAGE_URL" 2>/dev/null || echo "?")"
done
