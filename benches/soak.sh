#!/usr/bin/env bash
# The daemon's soak (tests/soak.rs): 30 jobs under two restore slots — one
# that passes and is kept, one that fails, both asked for each round through
# the API; a MariaDB job on a 3-second schedule and 27 PostgreSQL jobs on a
# one-minute schedule whose dumps never change (unchanged) — a reload every
# tenth round and 40 API and page reads a round.
#
#   SOAK_MINUTES=60 benches/soak.sh   rounds until an hour is up (at most
#                                     SOAK_ROUNDS, by default 20 a minute)
#   benches/soak.sh                   SOAK_ROUNDS=60 rounds, about ten minutes
#
# SOAK_JOBS (default 30), SOAK_REQUESTS (reads a round, default 40) and
# SOAK_SAMPLE_MINUTES (default 1) set the rest. Samples the daemon's RSS,
# open file descriptors and state dir size and writes the table to
# target/soak.md. Fails when memory is not flat (the last third's median RSS,
# or of its anonymous part, above the middle third's by more than 2 MiB or
# 5 %, whichever is larger), on a leaked file descriptor, container, relay,
# network or volume. Needs the images: docker/build-images.sh.
#
# Measured 2026-12-07 (BENCHMARKS.md, "Soak of the daemon"; 2 shared cores):
# not flat. Open descriptors flat (21-27) and nothing leaked, but the
# daemon's anonymous memory grows about 0.4 MiB a minute after a two-minute
# warm-up (18.0 -> 23.8 MiB from minute 2 to 16), with glibc malloc or
# jemalloc, with SQLite's page cache at 2 MiB or 512 KiB a connection.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test soak -- --ignored --nocapture "$@"
