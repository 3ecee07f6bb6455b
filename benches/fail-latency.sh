#!/usr/bin/env bash
# How soon a failed load is reported (issue 13: within 2 s of the tool's exit).
# Makes the shop dataset (fixtures/shop/generate.sh) at SCALE, breaks an early
# row of the biggest table (PostgreSQL: a COPY value that is not a number;
# MariaDB: a row of the second INSERT with one value too many), and runs `restoredrill run` on it REPS
# times with `restore.parallel` 1 and 2. Docker's `exec_die` events of the
# run's candidate give the moment the failing client exited; the JSON report
# gives the end of the load phase and of the run. Prints a markdown table of
# medians: tool exit -> load phase end, tool exit -> run finished.
#
# Usage: benches/fail-latency.sh
# Env:   SCALE=0.3 REPS=3; BIN=PATH (default: `cargo build --release`).
# Everything it starts (containers, temp dirs, `docker events`) is removed on
# every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=${SCALE:-0.3}
reps=${REPS:-3}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-target}/release/restoredrill
fi
work=$(mktemp -d)
events=
cleanup() {
  [ -n "$events" ] && kill "$events" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fixtures/shop/generate.sh postgres "$scale" "$work/gen" >/dev/null
fixtures/shop/generate.sh mariadb "$scale" "$work/gen" >/dev/null
mkdir -p "$work/pg" "$work/my"
# The 1000th row of order_items: its first column becomes text.
gzip -dc "$work/gen/shop-postgres-s$scale.sql.gz" |
  awk '/^COPY public.order_items /{c=1; print; next} c && ++n == 1000 {sub(/^[0-9]+/, "not-a-number")} /^\\\.$/{c=0} {print}' |
  gzip >"$work/pg/bad.sql.gz"
gzip -dc "$work/gen/shop-mariadb-s$scale.sql.gz" |
  awk '/^INSERT INTO `order_items`/{c++} c == 2 && !done {sub(/^\(/, "(\x27not-a-number\x27,"); if ($0 ~ /not-a-number/) done=1} {print}' |
  gzip >"$work/my/bad.sql.gz"

config() { # engine dir parallel
  cat <<EOF
state_dir: $work/state-$1-$3
jobs:
  - name: fail-$1-$3
    engine: $1
    image: $([ "$1" = postgres ] && echo restoredrill/postgres:15 || echo restoredrill/mariadb:10.11)
    schedule: "0 3 * * *"
    source: { type: local, path: $work/$2, pattern: "bad.sql.gz", settle: 0s }
    database: shop
    keep: false
    restore: { parallel: $3 }
    assertions:
      - tables_exist: [order_items]
EOF
}

measure() { # engine dir parallel -> "exit_to_load_end exit_to_finish"
  local job=fail-$1-$3
  config "$@" >"$work/$job.yaml"
  docker events --filter event=exec_die --filter "label=restoredrill.job=$job" \
    --format '{{.TimeNano}} {{.Actor.Attributes.exitCode}}' >"$work/$job.events" &
  events=$!
  sleep 0.5
  "$BIN" run --config "$work/$job.yaml" --json >"$work/$job.json" 2>"$work/$job.log" || true
  sleep 1
  kill "$events" 2>/dev/null || true
  wait "$events" 2>/dev/null || true
  events=
  python3 - "$work/$job.json" "$work/$job.events" <<'PY'
import json, sys, datetime
run = json.load(open(sys.argv[1]))["runs"][0]
assert run["verdict"] == "fail", run["verdict"]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
load = next(p for p in run["phases"] if p["name"] == "load")
exits = [int(l.split()[0]) / 1e9 for l in open(sys.argv[2]) if l.split()[1:] and l.split()[1] != "0"]
first = min(exits)
print(f"{t(load['finished_at']) - first:.2f} {t(run['finished_at']) - first:.2f}")
PY
}

echo "| dump | restore.parallel | tool exit → load phase end | tool exit → run finished |"
echo "|---|---:|---:|---:|"
for engine in postgres mariadb; do
  dir=$([ "$engine" = postgres ] && echo pg || echo my)
  for parallel in 1 2; do
    results=()
    for _ in $(seq "$reps"); do
      results+=("$(measure "$engine" "$dir" "$parallel")")
    done
    printf '%s\n' "${results[@]}" | python3 -c "
import sys, statistics
rows = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
m = lambda i: statistics.median(r[i] for r in rows)
print(f'| $engine, a broken row early in order_items | $parallel | {m(0):.2f} s | {m(1):.2f} s |')"
  done
done
