#!/usr/bin/env bash
# Builds the images restoredrill's example config and tests use, locally:
#   restoredrill/postgres:15     PostgreSQL 15 from Debian bookworm
#   restoredrill/mariadb:10.11   MariaDB 10.11 from Debian bookworm
#   restoredrill/barman:3.4      the postgres image plus Debian's Barman 3.4, for
#                                fixtures/make-barman.sh only (tests/barman.rs)
# Both honour the official postgres / mariadb images' contract (environment
# variables, ports, first-start initialisation), so a config can switch to
# `postgres:15` or `mariadb:10.11` wherever a registry is reachable.
#
# The base image debian:bookworm-slim is pulled if possible; where no registry
# is reachable it is made with debootstrap from the host's Debian mirror
# (debootstrap is installed with apt-get when missing, as root or with sudo).
# Idempotent: a second run reuses Docker's build cache and takes seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

base=debian:bookworm-slim

# The Debian mirror this host's apt already uses (override with DEBIAN_MIRROR).
host_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)
  [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)
  printf '%s' "$uri"
}

if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "== $base is absent; trying to pull it"
  if ! docker pull "$base" 2>/dev/null; then
    echo "== no registry reachable; building $base with debootstrap"
    if ! command -v debootstrap >/dev/null; then
      if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
        echo "== installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
      elif command -v apt-get >/dev/null && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        echo "== installing debootstrap"
        sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
      else
        echo "error: debootstrap is missing and cannot be installed from here. Install it (sudo apt-get install -y debootstrap) and run docker/build-images.sh again" >&2
        exit 1
      fi
    fi
    mirror=${DEBIAN_MIRROR:-$(host_mirror)}
    if [ -z "$mirror" ]; then
      echo "error: no Debian mirror found in /etc/apt; set DEBIAN_MIRROR" >&2
      exit 1
    fi
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
      tail -n 30 "$rootfs.log" >&2
      echo "error: debootstrap failed (log above)" >&2
      exit 1
    }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  fi
fi

echo "== building restoredrill/postgres:15"
docker build -q -t restoredrill/postgres:15 "$here/postgres"
echo "== building restoredrill/mariadb:10.11"
docker build -q -t restoredrill/mariadb:10.11 "$here/mariadb"
echo "== building restoredrill/barman:3.4"
docker build -q -t restoredrill/barman:3.4 "$here/barman"
echo "== images ready"
