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
# KINDS=pg-physical (off by default: it builds a live archiving source, its
# backups and the disk test first, a few minutes more) compares physical with
# logical restores of the same data. The dataset at SCALE is loaded once into a
# PostgreSQL source (wal_level=replica, archive_mode=on; each segment copied to
# a WAL folder and pushed by `pgbackrest archive-push` to a posix repository,
# stanza `shop`), then backed up by `pg_basebackup -Fp -X fetch`, by
# `pgbackrest backup --type=full` and by `pg_dump -Fc`. Five arms, alternately,
# REPS times, each from nothing to the container removed, every table counted:
#   (L)  `restoredrill run` on the pg_dump custom archive (the faster logical
#        form here; see the pg-custom rows);
#   (B)  `restoredrill run` on the pg_basebackup folder, `amcheck: false`;
#   (P)  `restoredrill run` on the pgBackRest repository, `amcheck: false`;
#   (RB) raw: `docker run` with the base backup and WAL folder mounted, copy
#        the backup into the data directory, recovery.signal and
#        restore_command, start `postgres`, wait until pg_is_in_recovery() is
#        false, count, remove;
#   (RP) raw: the same with the repository mounted, `pgbackrest restore`, start.
# Then (B) once with amcheck on (the default), and the disk's sequential write
# speed (dd 1 GiB, O_DIRECT, in the bench's temp dir), against which each
# physical arm's throughput (data directory bytes / whole time) is put.
#
# Usage: benches/restore.sh   (31 minutes at the defaults on 2 busy shared cores; SCALE=1 is ~3× quicker)
#        KINDS=pg-physical benches/restore.sh   (11 minutes at SCALE=3, 4 at SCALE=1 with
#        the dump already made; results in BENCHMARKS.md, "Physical restores")
# Env:   SCALE=3     dataset scale (1 ≈ 100 MB of SQL); REPS=3 repetitions;
#        JOBS=nproc  pg_restore --jobs of arm (b);
#        KINDS="pg-plain pg-custom mariadb"  the dumps to run, a subset of these
#                    and pg-physical (see above; alone it runs only its arms);
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
# The jobs whose containers, networks and volumes restoredrill labels.
job_names="pg-plain pg-custom mariadb pg-big idle phys-L phys-B phys-P phys-BA"
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  local ids
  ids=$(docker ps -aq --filter "label=restoredrill.bench=$tag")
  for job in $job_names; do
    ids="$ids $(docker ps -aq --filter "label=restoredrill.job=$tag-$job")"
  done
  # shellcheck disable=SC2086 # word splitting of the id lists is wanted
  [ -z "${ids// /}" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
  for job in $job_names; do
    docker network ls -q --filter "label=restoredrill.job=$tag-$job" | xargs -r docker network rm >/dev/null 2>&1 || true
    docker volume ls -q --filter "label=restoredrill.job=$tag-$job" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  done
  # The physical source's server wrote its backups and archive as its own
  # user; hand them back so that they can be deleted.
  if [ -d "$work/phys" ]; then
    docker run --rm --network none --label "restoredrill.bench=$tag" -u 0 --entrypoint chown \
      -v "$work/phys:/out" "$pg_image" -R "$(id -u):$(id -g)" /out >/dev/null 2>&1 || true
  fi
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

# The assertions of every restoredrill arm: each table, with exactly its rows.
assertions_yaml() { # EXPECTED
  local i=0 n names="${tables[*]}" counts
  read -ra counts <<<"$1"
  echo "    assertions:"
  echo "      - tables_exist: [${names// /, }]"
  for n in "${counts[@]}"; do
    echo "      - row_count: { table: ${tables[$i]}, min: $n, max: $n }"
    i=$((i + 1))
  done
}

# The job config of arm (c): exact row counts of every table.
write_config() { # KIND DUMP EXPECTED
  local kind=$1 dump=$2 engine image
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
    assertions_yaml "$3"
  } >"$work/$kind.yaml"
}

# Arm (c): prints "SECONDS PEAK_RSS_KIB LOAD_SECONDS CONNECTIONS CREATE_START_SECONDS PEAK_ANON_KIB".
restoredrill_arm() { # KIND
  local kind=$1 t0 t1 timer pid='' anon=0 key value _
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

# ---- KINDS=pg-physical: physical against logical restores of the same data ----
phys=$work/phys
phys_src=$tag-source
phys_results=$work/physical.tsv
count_sql="SELECT concat_ws(' ', $(printf '(SELECT count(*) FROM %s),' "${tables[@]}" | sed 's/,$//'))"
# pgBackRest's options on the source, all on the command line: the image's
# /etc/pgbackrest.conf names another repository, and the command line wins.
src_brest=(--stanza=shop --repo1-path=/out/repo --pg1-path=/var/lib/postgresql/data)

# psql in the physical source, as postgres over its socket; statements from
# stdin unless -c is given.
src_sql() { docker exec -i -u postgres "$phys_src" psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# Closes the source's current WAL segment and waits until it and every one
# before it are archived (at most 10 minutes).
src_archived() {
  local seg deadline=$((SECONDS + 600))
  seg=$(src_sql -d postgres -c "SELECT pg_walfile_name(pg_switch_wal())")
  until [ "$(src_sql -d postgres -c "SELECT coalesce(last_archived_wal, '') >= '$seg' FROM pg_stat_archiver")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "error: segment $seg not archived within 10 minutes" >&2; exit 1; }
    sleep 0.2
  done
}

# The source: the dataset at SCALE loaded into an archiving server, then
# $phys/base/shop (pg_basebackup), $phys/repo (pgBackRest, one full set),
# $phys/wal (the archived segments) and $phys/shop.dump (pg_dump -Fc).
make_physical() { # SCALE EXPECTED
  local deadline got
  mkdir -p "$phys"
  mkdir -m 0777 "$phys/wal" "$phys/base" "$phys/repo"
  log "physical source: loading the shop dataset at scale $1, archiving to a folder and to pgBackRest"
  # archive-push first: a segment is only in the folder once both have it,
  # and a retry after a failed push overwrites the folder's copy.
  docker run -d --name "$phys_src" --label "restoredrill.bench=$tag" --network none \
    --mount type=volume,dst=/var/lib/postgresql -v "$phys:/out" \
    -e "POSTGRES_PASSWORD=$pw" -e POSTGRES_INITDB_ARGS=--data-checksums "$pg_image" \
    -c wal_level=replica -c archive_mode=on -c max_wal_senders=4 -c max_wal_size=4GB \
    -c "archive_command=pgbackrest ${src_brest[*]} archive-push %p && cp %p /out/wal/%f" >/dev/null
  deadline=$((SECONDS + 120))
  until docker exec -e "PGPASSWORD=$pw" -u postgres "$phys_src" \
    psql -X -q -h 127.0.0.1 -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] ||
      { docker logs --tail 30 "$phys_src" >&2; echo "error: the physical source did not start" >&2; exit 1; }
    sleep 0.3
  done
  src_sql -d postgres -c "CREATE DATABASE shop"
  docker exec -u postgres "$phys_src" pgbackrest "${src_brest[@]}" stanza-create >/dev/null
  gunzip -c "$(dump_path pg-plain "$1")" | src_sql -d shop >/dev/null
  got=$(src_sql -d shop -c "$count_sql")
  [ "$got" = "$2" ] || { echo "error: the physical source has rows $got, expected $2" >&2; exit 1; }
  # The load's WAL is archived before the backups start: pgbackrest backup
  # waits for its own last segment, queued behind it.
  src_archived
  log "physical source: pg_basebackup, pgbackrest backup --type=full, pg_dump -Fc"
  docker exec -u postgres "$phys_src" pg_basebackup --checkpoint=fast -D /out/base/shop -Fp -X fetch
  docker exec -u postgres "$phys_src" pgbackrest "${src_brest[@]}" backup --type=full --start-fast \
    --repo1-retention-full=99 --process-max=2 --archive-timeout=600 >/dev/null
  docker exec -u postgres "$phys_src" pg_dump -Fc -d shop >"$phys/shop.dump"
  # Both archives reach past the backups' ends.
  src_archived
  docker exec -u 0 "$phys_src" sh -c "chown -R $(id -u):$(id -g) /out && chmod -R u+rwX,go+rX,go-w /out"
  docker rm -f -v "$phys_src" >/dev/null
}

# The job config of a physical arm: SOURCE the folder of base backups or the
# repository, PHYSICAL the physical block's keys.
write_physical_config() { # KIND SOURCE EXPECTED PHYSICAL
  local kind=$1
  mkdir -p "$work/state-$kind"
  {
    echo "state_dir: $work/state-$kind"
    echo "http: { listen: 127.0.0.1:0 }"
    echo "jobs:"
    echo "  - name: $tag-$kind"
    echo "    engine: postgres"
    echo "    image: $pg_image"
    echo "    source: { type: local, path: $2, settle: 0s }"
    echo "    database: shop"
    echo "    keep: false"
    echo "    physical: { $4 }"
    assertions_yaml "$3"
  } >"$work/$kind.yaml"
}

# Raw arm RB or RP, as a user would script it: a server container with the
# backup mounted read-only restores it, starts, and recovers to the end of the
# archive; wait for the promotion, count, remove. Prints the seconds it took.
raw_physical_arm() { # ARM EXPECTED
  local c=$tag-raw got t0 t1 script mounts=()
  case "$1" in
    RB)
      mounts=(-v "$phys/base/shop:/backup:ro" -v "$phys/wal:/wal:ro")
      # shellcheck disable=SC2016 # expanded by the container's shell
      script='cp -R /backup/. "$PGDATA" && chmod 0700 "$PGDATA" && touch "$PGDATA/recovery.signal" &&
        echo "restore_command = '\''cp /wal/%f %p'\''" >>"$PGDATA/postgresql.auto.conf" && exec postgres'
      ;;
    RP)
      mounts=(-v "$phys/repo:/repo:ro")
      # shellcheck disable=SC2016 # expanded by the container's shell
      script='pgbackrest --stanza=shop --repo1-path=/repo --pg1-path="$PGDATA" --archive-mode=off \
        --process-max=2 --log-level-console=warn restore && exec postgres'
      ;;
  esac
  t0=$(now)
  docker run -d --name "$c" --label "restoredrill.bench=$tag" --network none -u postgres \
    --mount type=volume,dst=/var/lib/postgresql "${mounts[@]}" --entrypoint bash "$pg_image" -c "$script" >/dev/null
  until [ "$(docker exec -u postgres "$c" psql -X -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
    if [ "$(docker inspect -f '{{.State.Running}}' "$c")" != true ]; then
      docker logs --tail 30 "$c" >&2
      echo "error: arm ($1)'s server stopped" >&2
      exit 1
    fi
    sleep 0.1
  done
  got=$(docker exec -u postgres "$c" psql -X -d shop -Atc "$count_sql")
  docker rm -f -v "$c" >/dev/null
  t1=$(now)
  [ "$got" = "$2" ] || { echo "error: arm ($1) restored rows $got, expected $2" >&2; exit 1; }
  echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}

# The phases of the last restoredrill run, "name seconds" pairs.
last_phases() {
  python3 - "$work/report.json" <<'PY'
import datetime, json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
print(" ".join(f"{p['name']} {(t(p['finished_at']) - t(p['started_at'])).total_seconds():.2f}"
               for p in run["phases"]))
PY
}

# Sequential write speed of the disk under the bench's temp dir, MiB/s.
disk_write_mib_s() {
  local t0 t1
  t0=$(now)
  dd if=/dev/zero of="$work/ddtest" bs=1M count=1024 oflag=direct status=none
  t1=$(now)
  rm -f "$work/ddtest"
  echo "$t0 $t1" | awk '{ printf "%.0f", 1024 / ($2 - $1) }'
}

# The whole physical comparison; appends "ARM SECONDS PHASES..." lines.
bench_physical() { # EXPECTED
  local rep i arm secs arms=(L B P RB RP) n=5
  : >"$phys_results"
  write_config phys-L "$phys/shop.dump" "$1"
  write_physical_config phys-B "$phys/base" "$1" "kind: pg_basebackup, wal: $phys/wal, amcheck: false"
  write_physical_config phys-P "$phys/repo" "$1" "kind: pgbackrest, stanza: shop, amcheck: false"
  write_physical_config phys-BA "$phys/base" "$1" "kind: pg_basebackup, wal: $phys/wal"
  for rep in $(seq 1 "$reps"); do
    for i in $(seq 0 $((n - 1))); do
      arm=${arms[$(((i + rep - 1) % n))]}
      case "$arm" in
        L | B | P)
          secs=$(restoredrill_arm "phys-$arm")
          secs="${secs%% *} $(last_phases)"
          ;;
        *) secs=$(raw_physical_arm "$arm" "$1") ;;
      esac
      log "pg-physical rep $rep arm ($arm): ${secs%% *} s"
      echo "$arm $secs" >>"$phys_results"
    done
  done
  secs=$(restoredrill_arm phys-BA)
  secs="${secs%% *} $(last_phases)"
  log "pg-physical arm (B) with amcheck: ${secs%% *} s"
  echo "BA $secs" >>"$phys_results"
}

# The markdown table of the physical comparison.
report_physical() { # DISK_MIB_S
  local data_bytes dump_bytes
  data_bytes=$(du -sb "$phys/base/shop" | cut -f1)
  dump_bytes=$(stat -c %s "$phys/shop.dump")
  echo
  echo "Physical against logical (KINDS=pg-physical, SCALE=$scale, REPS=$main_reps): the same shop database;"
  echo "data directory (the pg_basebackup folder) $((data_bytes / 1048576)) MiB, pg_dump -Fc $((dump_bytes / 1048576)) MiB,"
  echo "WAL archived $(du -sm "$phys/wal" | cut -f1) MiB, pgBackRest repository $(du -sm "$phys/repo" | cut -f1) MiB (gzip)."
  echo "Disk sequential write (dd 1 GiB, O_DIRECT, same run): $1 MiB/s. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  python3 - "$phys_results" "$data_bytes" "$1" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
phases = collections.defaultdict(list)
for line in open(sys.argv[1]):
    arm, secs, *ph = line.split()
    runs[arm].append(float(secs))
    phases[arm].append(dict(zip(ph[0::2], map(float, ph[1::2]))))
data, disk = int(sys.argv[2]), float(sys.argv[3])
med = {arm: statistics.median(v) for arm, v in runs.items()}
names = {
    "L": "(L) `restoredrill run`, pg_dump custom (logical)",
    "B": "(B) `restoredrill run`, pg_basebackup, amcheck off",
    "P": "(P) `restoredrill run`, pgBackRest, amcheck off",
    "RB": "(RB) raw: copy, recovery.signal, `postgres`",
    "RP": "(RP) raw: `pgbackrest restore`, `postgres`",
    "BA": "(B) once with amcheck on (the default)",
}
print("| arm | median | runs | logical / arm | arm / raw | throughput (data dir / time) | of disk write |")
print("|---|---:|---|---:|---:|---:|---:|")
raw = {"B": "RB", "P": "RP", "BA": "RB"}
for arm in ["L", "B", "P", "RB", "RP", "BA"]:
    if arm not in med:
        continue
    m = med[arm]
    thr = data / 1048576 / m
    print(f"| {names[arm]} | {m:.2f} s | " + ", ".join(f"{s:.2f}" for s in runs[arm])
          + f" | {med['L'] / m:.2f}× | "
          + (f"{m / med[raw[arm]]:.2f}×" if arm in raw else "—")
          + (f" | {thr:.1f} MiB/s | {thr / disk * 100:.0f} % |" if arm != "L" else " | — | — |"))
print()
print("restoredrill's phases, medians (s):")
print()
for arm in ["L", "B", "P", "BA"]:
    if arm not in phases:
        continue
    keys = list(phases[arm][0])
    print(f"- ({arm}): " + ", ".join(
        f"{k} {statistics.median(p.get(k, 0.0) for p in phases[arm]):.2f}" for k in keys))
print()
b, p, rb, rp, l = (med.get(k) for k in ["B", "P", "RB", "RP", "L"])
ok = lambda c: "met" if c else "not met"
print(f"- Physical ≥ 3× faster than logical: pg_basebackup {l / b:.2f}× ({ok(l / b >= 3)}), "
      f"pgBackRest {l / p:.2f}× ({ok(l / p >= 3)}).")
print(f"- Within 1.1× of the raw tool: pg_basebackup {b / rb:.2f}× ({ok(b / rb <= 1.1)}), "
      f"pgBackRest {p / rp:.2f}× ({ok(p / rp <= 1.1)}).")
PY
}

log "restoredrill: $bin; scale $scale, $reps repetitions, pg_restore --jobs=$jobs"
mkdir -p "$dumps"
case "$kinds" in *pg-*) ensure_dumps postgres "$scale" ;; esac
case "$kinds" in *mariadb*) ensure_dumps mariadb "$scale" ;; esac
expected=$(expected_counts "$scale")
dump_kinds=$(echo "$kinds" | tr ' ' '\n' | grep -vx pg-physical | tr '\n' ' ' || true)
declare -A sizes
for kind in $dump_kinds; do
  sizes[$kind]=$(sql_mib "$(dump_path "$kind" "$scale")")
done
for kind in $dump_kinds; do
  bench_dump "$kind" "$(dump_path "$kind" "$scale")" "$expected" a b c
done
[ -z "${dump_kinds// /}" ] || idle_rss
main_reps=$reps
case " $kinds " in
  *" pg-physical "*)
    log "disk: sequential write, 1 GiB"
    disk=$(disk_write_mib_s)
    log "disk: $disk MiB/s"
    make_physical "$scale" "$expected"
    bench_physical "$expected"
    ;;
esac
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
if [ -n "${dump_kinds// /}" ]; then
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
fi

case " $kinds " in *" pg-physical "*) report_physical "$disk" ;; esac
