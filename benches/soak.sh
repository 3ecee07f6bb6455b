#!/usr/bin/env bash
# The daemon's soak: three jobs, two restore slots, passes, failures,
# unchanged dumps and reloads: SOAK_ROUNDS=60 rounds of two asked-for runs,
# with a job on a 3-second schedule beside them (over 200 runs in all).
# Prints the daemon's RSS, open file descriptors and state dir size every 10
# rounds and writes the table to target/soak.md; fails on a leaked file
# descriptor, container, relay, network or volume. Needs the images:
# docker/build-images.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test soak -- --ignored --nocapture "$@"
