#!/usr/bin/env bash
# `make demo`: the offline pipeline end to end, until the live-pipeline issue adds Kafka, a worker,
# Prometheus and Alertmanager. Simulates a month for the four municipalities with Heiloo's response
# norm slipping, replays it, and shows metrics and the monthly export.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
month=$(date -d "$(date +%Y-%m-01) -2 month" +%Y-%m)
until_time=$(date -d "$(date +%Y-%m-01)" +%Y-%m-%dT00:00:00%:z)

echo "== 1. simulate ${month}, Heiloo's melding response norm slipping"
"$BIN/contactmon" simulate --start "${month}-01" --months 1 --slip heiloo --seed 42 --out "$OUT/events.jsonl"

echo "== 2. replay through the core (deadlines decided up to ${until_time})"
rm -f "$OUT/store.sqlite3"
"$BIN/contactmon" replay "$OUT/events.jsonl" --store "sqlite:///$OUT/store.sqlite3" \
    --until "$until_time" --metrics-file "$OUT/metrics.prom" --rejects "$OUT/rejects.jsonl"

echo "== 3. metrics: melding-reactie compliance (30d) and overdue items per municipality"
grep -E '^contact_norm_(outcomes_total|overdue_items)\{.*norm="melding-reactie"' "$OUT/metrics.prom" || true

echo "== 4. monthly export ${month}"
"$BIN/contactmon" export --month "$month" --store "sqlite:///$OUT/store.sqlite3" --out "$OUT/export-${month}.csv"
head -1 "$OUT/export-${month}.csv"
grep -E ',norm_met_pct,melding-reactie,,,,' "$OUT/export-${month}.csv" || true

echo
echo "Files in $OUT: events.jsonl, metrics.prom (Prometheus text format), rejects.jsonl, export-${month}.csv"
