#!/usr/bin/env bash
# Peak memory and time of `restoredrill run` as dumps grow: the dump is
# streamed, so peak RSS should stay flat while the dump size grows.
# Usage: benches/memory.sh [ROWS...]   (default: 100000 1000000 3000000)
# Needs the images from docker/build-images.sh. Writes a table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/restoredrill
work=$(mktemp -d)
trap 'docker rm -f $(docker ps -aq --filter label=restoredrill.job=bench-memory) >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "| rows | dump (gzip) | dump (plain) | load time | run time | peak RSS of restoredrill |"
echo "|---:|---:|---:|---:|---:|---:|"
for rows in "${@:-100000 1000000 3000000}"; do
  mkdir -p "$work/dumps"
  rm -f "$work/dumps/"*
  {
    echo "-- PostgreSQL database dump"
    echo "SET client_encoding = 'UTF8';"
    echo "CREATE TABLE public.events (id bigint PRIMARY KEY, kind text NOT NULL, payload text NOT NULL, created_at timestamp NOT NULL);"
    echo "COPY public.events (id, kind, payload, created_at) FROM stdin;"
    awk -v n="$rows" 'BEGIN { for (i = 1; i <= n; i++) printf "%d\torder_created\t{\"order\": %d, \"amount\": %d.%02d, \"note\": \"benchmark row\"}\t2026-11-20 %02d:%02d:%02d\n", i, i, i % 997, i % 100, (i / 3600) % 24, (i / 60) % 60, i % 60 }'
    echo '\.'
  } >"$work/plain.sql"
  gzip -c "$work/plain.sql" >"$work/dumps/events.sql.gz"
  cat >"$work/config.yaml" <<YAML
state_dir: $work/state
jobs:
  - name: bench-memory
    engine: postgres
    image: restoredrill/postgres:15
    source: { type: local, path: $work/dumps }
    database: bench
    keep: false
    assertions:
      - row_count: { table: events, min: $rows, max: $rows }
YAML
  /usr/bin/time -f "%M %e" -o "$work/time" "$bin" run --json --config "$work/config.yaml" >"$work/report.json" 2>"$work/log"
  read -r rss secs <"$work/time"
  load=$(python3 -c "import json,sys; r=json.load(open('$work/report.json'))['runs'][0]; assert r['verdict']=='pass', r['reason']; import datetime as d; p=[x for x in r['phases'] if x['name']=='load'][0]; f=lambda s: d.datetime.fromisoformat(s.replace('Z','+00:00')); print(round((f(p['finished_at'])-f(p['started_at'])).total_seconds(),1))")
  printf '| %s | %s MiB | %s MiB | %s s | %s s | %s MiB |\n' "$rows" \
    "$(($(stat -c %s "$work/dumps/events.sql.gz") / 1048576))" "$(($(stat -c %s "$work/plain.sql") / 1048576))" \
    "$load" "$secs" "$((rss / 1024))"
done
