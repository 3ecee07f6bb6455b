#!/usr/bin/env bash
# Time outside the restore itself (issue 13): `restoredrill run --json` of the
# bundled shop fixtures (120 orders, one row_count check, `keep: false`),
# PostgreSQL and MariaDB, the data directory on a volume (the default) and on
# tmpfs, each started from the ready data directory (`restore.template`, the
# default) and initialised by the image itself (`template: false`), REPS runs
# of each, alternating, after one run of each that makes the ready data
# directories (in a cache dir of the bench's own). Prints the medians of every phase
# from the run report, the teardown (from the end of the last phase to the
# end of the run: removal of the containers, network and volume) and the
# whole command, and "outside" = the whole command minus the load phase.
#
# Usage: benches/startup.sh        (about 3 minutes at REPS=5)
# Env:   REPS=5; BIN=PATH restoredrill binary (default: `cargo build --release`).
# Needs the images from docker/build-images.sh and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

reps=${REPS:-5}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-target}/release/restoredrill
fi
bin=$(realpath "$BIN")
tag=restoredrill-startup-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/startup-bench.XXXXXX")
cleanup() {
  # Runs remove their own containers; this covers an interrupted one.
  docker ps -aq --filter "name=$tag" | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  docker network ls -q --filter "name=$tag" | xargs -r docker network rm >/dev/null 2>&1 || true
  docker volume ls -q --filter "name=$tag" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

jobs=()
{
  echo "state_dir: $work/state"
  echo "cache_dir: $work/cache"
  echo "jobs:"
  for engine in postgres mariadb; do
    if [ "$engine" = postgres ]; then image=restoredrill/postgres:15 file=shop.sql.gz; else image=restoredrill/mariadb:10.11 file=shop.sql.zst; fi
    for data in volume tmpfs; do
      for start in ready init; do
        jobs+=("$engine-$data-$start")
        echo "  - name: $tag-$engine-$data-$start"
        echo "    engine: $engine"
        echo "    image: $image"
        echo "    source: { type: local, path: $PWD/fixtures/$engine, pattern: \"$file\", settle: 0s }"
        echo "    database: shop"
        echo "    keep: false"
        echo "    restore: { tmpfs: $([ "$data" = tmpfs ] && echo true || echo false), template: $([ "$start" = ready ] && echo true || echo false) }"
        echo "    assertions: [ { row_count: { table: orders, min: 120, max: 120 } } ]"
      done
    done
  done
} >"$work/config.yaml"

# Not measured: makes the ready data directories.
for job in "${jobs[@]}"; do
  "$bin" run --no-alerts --config "$work/config.yaml" --job "$tag-$job" >/dev/null 2>"$work/run.log" ||
    { echo "error: the run of $job failed:" >&2; tail -5 "$work/run.log" >&2; exit 1; }
done
for rep in $(seq 1 "$reps"); do
  for job in "${jobs[@]}"; do
    t0=$(date +%s.%N)
    "$bin" run --json --no-alerts --config "$work/config.yaml" --job "$tag-$job" >"$work/$job-$rep.json" 2>"$work/run.log" ||
      { echo "error: the run of $job failed:" >&2; tail -5 "$work/run.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$job $rep $t0 $t1" >>"$work/times"
  done
done

python3 - "$work" <<'PY'
import collections, datetime, json, statistics, sys
work = sys.argv[1]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
cols = ["create", "start", "load", "lock_logins", "check", "teardown", "whole", "outside"]
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(f"{work}/times"):
    job, rep, t0, t1 = line.split()
    run = json.load(open(f"{work}/{job}-{rep}.json"))["runs"][0]
    assert run["verdict"] == "pass", (job, run.get("reason"))
    r = rows[job]
    for p in run["phases"]:
        r[p["name"]].append((t(p["finished_at"]) - t(p["started_at"])).total_seconds())
    r["teardown"].append((t(run["finished_at"]) - t(run["phases"][-1]["finished_at"])).total_seconds())
    whole = float(t1) - float(t0)
    r["whole"].append(whole)
    r["outside"].append(whole - r["load"][-1])
print(f"Medians of {min(len(r['whole']) for r in rows.values())} runs, seconds:")
print()
print("| engine, data, start | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
for job in sorted(rows, key=lambda j: (j.split("-")[0] != "postgres", j)):
    engine, data, start = job.split("-")
    start = "ready data directory" if start == "ready" else "initialised by the image"
    print(f"| {engine}, {data}, {start} | " + " | ".join(f"{statistics.median(rows[job][c]):.2f}" for c in cols) + " |")
PY
