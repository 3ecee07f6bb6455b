#!/usr/bin/env bash
# Restore speed, side by side (issue 13). For each dump of the generated shop
# dataset (fixtures/shop/generate.sh) -- PostgreSQL plain SQL gzip,
# PostgreSQL custom, MariaDB SQL gzip -- three arms run alternately, REPS
# times, in the same image, each from container start to container removed:
#   (a) naive: what a user would script: `docker run -d` with the image's
#       defaults, wait until it answers, `gunzip -c dump | psql` (or `mariadb`;
#       `pg_restore` from stdin for the custom archive), count every table's rows,
#       `docker rm -f`;
#   (b) best raw tool: the same, the server started with restoredrill's
#       throwaway settings (src/restore/postgres.rs TUNING, mysql.rs
#       server_args), and `pg_restore -jJOBS` on a copied-in custom archive;
#   (c) `restoredrill run --json` (release build) on a job asserting every
#       table and its exact row count.
# Every arm checks the exact row count of every table. Prints a markdown table
# of medians, ratios c/a and c/b, (c)'s load phase and the time outside it
# (the whole command minus the load phase: container create and start,
# readiness, checks, removal), and (c)'s peak RSS (/usr/bin/time -f %M; Debian
# package `time`) with, sampled every 20 ms, its peak anonymous part (heap and
# stacks; the rest is pages of the binary, which the kernel shares and can
# drop). Then the idle RSS of `restoredrill daemon` with one job,
# and, with BIG=1, a PostgreSQL plain dump of at least 2 GB of SQL restored
# once by (a) and (c).
#
# Usage: benches/restore.sh   (31 minutes at the defaults on 2 busy shared cores; SCALE=1 is ~3× quicker)
# Env:   SCALE=3     dataset scale (1 ≈ 100 MB of SQL); REPS=3 repetitions;
#        JOBS=nproc  pg_restore --jobs of arm (b);
#        KINDS="pg-plain pg-custom mariadb"  the dumps to run, a subset of these;
#        BIG=1       add the ≥ 2 GB arm (BIG_SCALE=20; generation takes minutes);
#        DUMPS=DIR   reuse dumps generate.sh wrote there (kept; else they are
#                    generated into a temporary dir and deleted);
#        BIN=PATH    restoredrill binary (default: `cargo build --release`).
# Needs the images from docker/build-images.sh, python3 and /usr/bin/time.
# Everything it starts (containers, volumes, the daemon, temp dirs) is
# removed on every exit path.
set -euo pipefail
shopt -s inherit_errexit # the arms run in $(...) and must stop at their first failure
cd "$(dirname "$0")/.."

scale=${SCALE:-3}
reps=${REPS:-3}
kinds=${KINDS:-pg-plain pg-custom mariadb}
jobs=${JOBS:-$(nproc)}
big_scale=${BIG_SCALE:-20}
pg_image=${PG_IMAGE:-restoredrill/postgres:15}
my_image=${MARIADB_IMAGE:-restoredrill/mariadb:10.11}
pw=bench-password
tag=restoredrill-bench-$$
tables=(customers products orders order_items reviews)

for tool in docker python3 gzip; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is missing: apt-get install time" >&2; exit 1; }
for image in "$pg_image" "$my_image"; do
  docker image inspect "$image" >/dev/null 2>&1 ||
    { echo "error: image $image is missing; build it with docker/build-images.sh" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-target}/release/restoredrill
fi
bin=$(realpath "$BIN")

work=$(mktemp -d "${TMPDIR:-/tmp}/restore-bench.XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  local ids
  ids=$(docker ps -aq --filter "label=restoredrill.bench=$tag")
  for job in pg-plain pg-custom mariadb pg-big idle; do
    ids="$ids $(docker ps -aq --filter "label=restoredrill.job=$tag-$job")"
  done
  # shellcheck disable=SC2086 # word splitting of the id lists is wanted
  [ -z "${ids// /}" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
  for job in pg-plain pg-custom mariadb pg-big idle; do
    docker network ls -q --filter "label=restoredrill.job=$tag-$job" | xargs -r docker network rm >/dev/null 2>&1 || true
    docker volume ls -q --filter "label=restoredrill.job=$tag-$job" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "error: restore.sh failed at line $LINENO (logs were in $work)" >&2' ERR

now() { date +%s.%N; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# Exact row counts of the dataset at a scale; mirrors generate.sh's count().
expected_counts() {
  awk -v s="$1" 'function c(b) { n = int(b * s + 0.5); return n < 1 ? 1 : n }
    BEGIN { print c(120000), c(12000), c(500000), c(500000) * 3, c(180000) }'
}

dumps=${DUMPS:-$work/dumps}
dump_path() { # KIND SCALE
  case "$1" in
    pg-plain | pg-big) echo "$dumps/shop-postgres-s$2.sql.gz" ;;
    pg-custom) echo "$dumps/shop-postgres-s$2.dump" ;;
    mariadb) echo "$dumps/shop-mariadb-s$2.sql.gz" ;;
  esac
}
ensure_dumps() { # ENGINE SCALE
  local f
  f=$(dump_path "$([ "$1" = postgres ] && echo pg-plain || echo mariadb)" "$2")
  if [ ! -s "$f" ]; then
    log "generating the $1 shop dataset at scale $2"
    fixtures/shop/generate.sh "$1" "$2" "$dumps" >/dev/null
  fi
}

# One raw arm (a or b) on one dump: start, wait, load, count, remove.
# Prints the seconds it took; fails the bench if a count is wrong.
raw_arm() { # ARM KIND DUMP EXPECTED
  local arm=$1 kind=$2 dump=$3 expected=$4 c=$tag-raw engine image mount count got t0 t1
  local args=() env ready client
  if [ "$kind" = mariadb ]; then
    engine=mariadb image=$my_image mount=/var/lib/mysql
    env=(-e "MARIADB_ROOT_PASSWORD=$pw" -e MARIADB_DATABASE=shop)
    [ "$arm" = a ] || args=(--max-allowed-packet=1073741824 --innodb-flush-log-at-trx-commit=0
      --innodb-doublewrite=0 --skip-log-bin --sync-binlog=0)
    ready=(mariadb -h127.0.0.1 -uroot shop -e 'SELECT 1')
    client=(mariadb -uroot shop)
  else
    engine=postgres image=$pg_image mount=/var/lib/postgresql
    env=(-e "POSTGRES_PASSWORD=$pw" -e POSTGRES_DB=shop)
    [ "$arm" = a ] || args=(-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c wal_level=minimal
      -c max_wal_senders=0 -c max_wal_size=8GB -c autovacuum=off -c maintenance_work_mem=512MB)
    ready=(psql -h 127.0.0.1 -U postgres -d shop -Atqc 'SELECT 1')
    client=(psql -q -v ON_ERROR_STOP=1 -U postgres -d shop)
  fi
  count="SELECT concat_ws(' ', $(printf '(SELECT count(*) FROM %s),' "${tables[@]}" | sed 's/,$//'))"
  t0=$(now)
  # The official images declare the data dir a volume; the local ones do not,
  # so an anonymous volume stands in for it (restoredrill also loads into a volume).
  docker run -d --name "$c" --label "restoredrill.bench=$tag" --mount "type=volume,dst=$mount" \
    "${env[@]}" "$image" "${args[@]}" >/dev/null
  until docker exec -e "PGPASSWORD=$pw" -e "MYSQL_PWD=$pw" "$c" "${ready[@]}" >/dev/null 2>&1; do sleep 0.1; done
  case "$kind-$arm" in
    pg-custom-a) docker exec -i "$c" pg_restore --exit-on-error -U postgres -d shop <"$dump" ;;
    pg-custom-b)
      docker cp -q "$dump" "$c:/tmp/shop.dump"
      docker exec "$c" pg_restore --exit-on-error "--jobs=$jobs" -U postgres -d shop /tmp/shop.dump
      ;;
    *) gunzip -c "$dump" | docker exec -i -e "MYSQL_PWD=$pw" "$c" "${client[@]}" >/dev/null ;;
  esac
  if [ "$engine" = mariadb ]; then
    got=$(docker exec -e "MYSQL_PWD=$pw" "$c" mariadb -uroot shop -N -e "$count")
  else
    got=$(docker exec "$c" psql -U postgres -d shop -Atc "$count")
  fi
  docker rm -f -v "$c" >/dev/null
  t1=$(now)
  [ "$got" = "$expected" ] || { echo "error: arm $arm on $kind restored rows $got, expected $expected" >&2; exit 1; }
  echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}

# The job config of arm (c): exact row counts of every table.
write_config() { # KIND DUMP EXPECTED
  local kind=$1 dump=$2 engine image i=0 n
  read -ra counts <<<"$3"
  if [ "$kind" = mariadb ]; then engine=mariadb image=$my_image; else engine=postgres image=$pg_image; fi
  mkdir -p "$work/src-$kind" "$work/state-$kind"
  ln -f "$dump" "$work/src-$kind/" 2>/dev/null || ln -sf "$dump" "$work/src-$kind/"
  {
    echo "state_dir: $work/state-$kind"
    echo "http: { listen: 127.0.0.1:0 }"
    echo "jobs:"
    echo "  - name: $tag-$kind"
    echo "    engine: $engine"
    echo "    image: $image"
    echo "    source: { type: local, path: $work/src-$kind, pattern: \"$(basename "$dump")\", settle: 0s }"
    echo "    database: shop"
    echo "    keep: false"
    echo "    assertions:"
    local names="${tables[*]}"
    echo "      - tables_exist: [${names// /, }]"
    for n in "${counts[@]}"; do
      echo "      - row_count: { table: ${tables[$i]}, min: $n, max: $n }"
      i=$((i + 1))
    done
  } >"$work/$kind.yaml"
}

# Arm (c): prints "SECONDS PEAK_RSS_KIB LOAD_SECONDS CONNECTIONS CREATE_START_SECONDS PEAK_ANON_KIB".
restoredrill_arm() { # KIND
  local kind=$1 t0 t1 timer pid= anon=0 key value _
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$bin" run --json --config "$work/$kind.yaml" \
    >"$work/report.json" 2>"$work/run.log" &
  timer=$!
  # Sampled with shell builtins only, so the sampling costs the run little.
  while kill -0 "$timer" 2>/dev/null; do
    [ -n "$pid" ] || pid=$(pgrep -P "$timer" || true)
    if [ -n "$pid" ]; then
      while read -r key value _; do
        if [ "$key" = RssAnon: ] && [ "$value" -gt "$anon" ]; then anon=$value; fi
      done <"/proc/$pid/status" 2>/dev/null || true
    fi
    sleep 0.02
  done
  if ! wait "$timer"; then
    echo "error: restoredrill run failed on $kind:" >&2
    tail -20 "$work/run.log" >&2
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; print(r["verdict"], r.get("reason"))' \
      "$work/report.json" >&2 2>/dev/null || true
    exit 1
  fi
  t1=$(now)
  python3 - "$work/report.json" "$t0" "$t1" "$(cat "$work/rss")" "$anon" <<'PY'
import datetime, json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
assert run["verdict"] == "pass", (run["verdict"], run.get("reason"))
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
phase = lambda *names: sum((t(p["finished_at"]) - t(p["started_at"])).total_seconds()
                           for p in run["phases"] if p["name"] in names)
conns = (run.get("load") or {}).get("connections", "-")
print(f"{float(sys.argv[3]) - float(sys.argv[2]):.2f} {sys.argv[4]} {phase('load'):.2f} {conns} "
      f"{phase('create', 'start'):.2f} {sys.argv[5]}")
PY
}

results=$work/results.tsv
: >"$results"
# Runs REPS repetitions of the arms on one dump, rotating which arm goes first.
bench_dump() { # KIND DUMP EXPECTED ARMS...
  local kind=$1 dump=$2 expected=$3 rep i arm n secs rest
  shift 3
  local arms=("$@")
  n=${#arms[@]}
  write_config "$kind" "$dump" "$expected"
  for rep in $(seq 1 "$reps"); do
    for i in $(seq 0 $((n - 1))); do
      arm=${arms[$(((i + rep - 1) % n))]}
      if [ "$arm" = c ]; then
        rest=$(restoredrill_arm "$kind")
        read -r secs rest <<<"$rest"
      else
        secs=$(raw_arm "$arm" "$kind" "$dump" "$expected") rest="- - - - -"
      fi
      log "$kind rep $rep arm ($arm): $secs s"
      printf '%s\t%s\t%s\t%s\n' "$kind" "$arm" "$secs" "${rest// /$'\t'}" >>"$results"
    done
  done
}

sql_mib() { # DUMP: its size as the engine reads it (decompressed), in MiB
  case "$1" in
    *.gz) gunzip -c "$1" | wc -c | awk '{ printf "%.0f MiB SQL", $1 / 1048576 }' ;;
    *) stat -c %s "$1" | awk '{ printf "%.0f MiB archive", $1 / 1048576 }' ;;
  esac
}

# The daemon's RSS after 10 s idle with one job (nothing due), into $work/idle.
idle_rss() {
  mkdir -p "$work/state-idle"
  cat >"$work/idle.yaml" <<YAML
state_dir: $work/state-idle
http: { listen: 127.0.0.1:0 }
jobs:
  - name: $tag-idle
    engine: postgres
    image: $pg_image
    schedule: "0 3 1 1 *"
    source: { type: local, path: $work/src-pg-plain, settle: 0s }
    database: shop
    keep: false
YAML
  "$bin" daemon --config "$work/idle.yaml" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  sleep 10
  kill -0 "$daemon_pid" 2>/dev/null || { echo "error: the daemon exited:" >&2; tail "$work/daemon.log" >&2; exit 1; }
  awk '/^VmRSS|^VmHWM|^RssAnon|^RssFile/ { printf "%s %.1f MiB  ", $1, $2 / 1024 }' "/proc/$daemon_pid/status" >"$work/idle"
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=
}

log "restoredrill: $bin; scale $scale, $reps repetitions, pg_restore --jobs=$jobs"
mkdir -p "$dumps"
case "$kinds" in *pg-*) ensure_dumps postgres "$scale" ;; esac
case "$kinds" in *mariadb*) ensure_dumps mariadb "$scale" ;; esac
expected=$(expected_counts "$scale")
declare -A sizes
for kind in $kinds; do
  sizes[$kind]=$(sql_mib "$(dump_path "$kind" "$scale")")
done
for kind in $kinds; do
  bench_dump "$kind" "$(dump_path "$kind" "$scale")" "$expected" a b c
done
idle_rss
main_reps=$reps
if [ "${BIG:-0}" = 1 ]; then
  ensure_dumps postgres "$big_scale"
  big=$(dump_path pg-big "$big_scale")
  sizes[pg-big]=$(sql_mib "$big")
  reps=1 # once: it shows how time and RSS grow with the dump, not a median
  bench_dump pg-big "$big" "$(expected_counts "$big_scale")" a c
  [ -n "${DUMPS:-}" ] || rm -f "$dumps"/shop-postgres-s"$big_scale".*
fi

rows=$(expected_counts "$scale" | awk '{ printf "%.2fM", ($1 + $2 + $3 + $4 + $5) / 1e6 }')
echo
echo "\`benches/restore.sh\` (SCALE=$scale, REPS=$main_reps, JOBS=$jobs): shop dataset, $rows rows in 5 tables;"
echo "medians of $main_reps, each arm from container start to container removed, rows of every table counted."
echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, Docker $(docker version --format '{{.Server.Version}}'), $(date -u '+%Y-%m-%d %H:%M UTC')."
echo
python3 - "$results" "${sizes[pg-plain]:-}" "${sizes[pg-custom]:-}" "${sizes[mariadb]:-}" "${sizes[pg-big]:-}" "$jobs" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kind, arm, secs, rss, load, conns, startup, anon = line.rstrip("\n").split("\t")
    rows[kind, arm].append((float(secs), rss, load, conns, startup, anon))
size = dict(zip(["pg-plain", "pg-custom", "mariadb", "pg-big"], sys.argv[2:6]))
jobs = sys.argv[6]
names = {
    "pg-plain": ("PostgreSQL plain SQL, gzip", "`psql`", "`psql`, tuned"),
    "pg-custom": ("PostgreSQL custom", "`pg_restore`", f"`pg_restore -j{jobs}`, tuned"),
    "mariadb": ("MariaDB SQL, gzip", "`mariadb`", "`mariadb`, tuned"),
    "pg-big": ("PostgreSQL plain SQL, gzip (big)", "`psql`", None),
}
med = lambda kind, arm, i=0: statistics.median(float(r[i]) for r in rows[kind, arm])
print("| dump | (a) naive script | (b) best raw tool | (c) restoredrill run | c/a | c/b "
      "| (c) load phase | (c) outside load | (c) of which create+start | (c) load connections | (c) peak RSS | (c) of which anonymous |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for kind in ["pg-plain", "pg-custom", "mariadb", "pg-big"]:
    if not rows[kind, "c"]:
        continue
    title, a_tool, b_tool = names[kind]
    a, c = med(kind, "a"), med(kind, "c")
    b = med(kind, "b") if rows[kind, "b"] else None
    load, startup = med(kind, "c", 2), med(kind, "c", 4)
    rss = max(int(r[1]) for r in rows[kind, "c"]) / 1024
    anon = max(int(r[5]) for r in rows[kind, "c"]) / 1024
    conns = "/".join(sorted({r[3] for r in rows[kind, "c"]}))
    print(f"| {title} ({size[kind]}) | {a:.2f} s ({a_tool}) | "
          + (f"{b:.2f} s ({b_tool})" if b else "—")
          + f" | {c:.2f} s | {c / a:.2f}× | " + (f"{c / b:.2f}×" if b else "—")
          + f" | {load:.2f} s | {c - load:.2f} s | {startup:.2f} s | {conns} | {rss:.1f} MiB | {anon:.1f} MiB |")
print()
print("All runs in order of kind and arm (seconds; for (c) also peak RSS, load phase, connections):")
print()
for (kind, arm), rs in sorted((k, rs) for k, rs in rows.items() if rs):
    print(f"- {kind} ({arm}): " + ", ".join(f"{r[0]:.2f}" + (f" [{int(r[1]) / 1024:.1f} MiB, anon {int(r[5]) / 1024:.1f} MiB, load {r[2]} s, {r[3]} conn]" if arm == "c" else "") for r in rs))
PY
echo
echo "Idle daemon, one job, after 10 s: $(cat "$work/idle")"
