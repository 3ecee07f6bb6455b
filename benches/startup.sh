#!/usr/bin/env bash
# Time outside the restore itself (issue 13): `restoredrill run --json` of the
# bundled shop fixtures (120 orders, one row_count check, `keep: false`),
# PostgreSQL and MariaDB, the data directory on a volume (the default) and on
# tmpfs, REPS runs of each, alternating. Prints the medians of every phase
# from the run report, the teardown (from the end of the last phase to the
# end of the run: removal of the containers, network and volume) and the
# whole command, and "outside" = the whole command minus the load phase.
#
# Usage: benches/startup.sh        (about 2 minutes at REPS=5)
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

{
  echo "state_dir: $work/state"
  echo "jobs:"
  for engine in postgres mariadb; do
    if [ "$engine" = postgres ]; then image=restoredrill/postgres:15 file=shop.sql.gz; else image=restoredrill/mariadb:10.11 file=shop.sql.zst; fi
    for data in volume tmpfs; do
      echo "  - name: $tag-$engine-$data"
      echo "    engine: $engine"
      echo "    image: $image"
      echo "    source: { type: local, path: $PWD/fixtures/$engine, pattern: \"$file\", settle: 0s }"
      echo "    database: shop"
      echo "    keep: false"
      [ "$data" = volume ] || echo "    restore: { tmpfs: true }"
      echo "    assertions: [ { row_count: { table: orders, min: 120, max: 120 } } ]"
    done
  done
} >"$work/config.yaml"

for rep in $(seq 1 "$reps"); do
  for job in postgres-volume mariadb-volume postgres-tmpfs mariadb-tmpfs; do
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
print(f"Medians of {len(rows['postgres-volume']['whole'])} runs, seconds:")
print()
print("| engine, data | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
for job in ["postgres-volume", "postgres-tmpfs", "mariadb-volume", "mariadb-tmpfs"]:
    print(f"| {job.replace('-', ', ')} | " + " | ".join(f"{statistics.median(rows[job][c]):.2f}" for c in cols) + " |")
PY
