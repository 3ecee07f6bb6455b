#!/usr/bin/env bash
# The README's test command. On a machine with Docker and a Rust toolchain it
# installs what the tests need and this machine lacks, builds the local
# database images, then runs every test: `cargo test`, with any arguments
# passed on (`tests/run.sh --test verify`).
#
# What the tests need besides Docker and Rust, and why:
#   debootstrap       makes the Debian base image where no registry is reachable
#   python3-aiosmtpd  the tests' real SMTP receiver (Debian's python3)
#   chromium, chromium-driver  load the status pages in a real browser
#   openssl           makes the SMTP receiver's TLS certificate
#   iproute2, util-linux  `ip`, `nsenter` and `prlimit`: the engine test runs a second
#                     Docker engine in a network namespace of its own; the
#                     sandbox test finds this machine's own addresses; the
#                     limits test holds the daemon to 1024 open files
#   openssh-server, openssh-client  a real sshd on loopback for the sftp source
#   age, gnupg        encrypt the dumps the decryption tests restore
#   s3s-fs            a real S3 server on loopback for the s3 source; a Rust
#                     program, installed with `cargo install` (a few minutes, once)
#   promtool          checks /metrics; taken out of Debian's prometheus package
#                     into target/tools (no Prometheus server is installed or started)
# They are installed with apt-get when this is a Debian/Ubuntu machine and we
# are root or may sudo without a password; otherwise the missing ones are named
# and the script stops before running any test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v openssl >/dev/null || missing+=(openssl)
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null || missing+=(openssh-client)
command -v age >/dev/null || missing+=(age)
command -v gpg >/dev/null || missing+=(gnupg)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    sudo=(none)
  fi
  if ! command -v apt-get >/dev/null || [ "${sudo[0]:-}" = none ]; then
    echo "error: the tests need these packages, which are missing: ${missing[*]}" >&2
    echo "install them (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}) and run tests/run.sh again" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "error: the Docker engine is not reachable (docker info failed); start it (sudo systemctl start docker) and run tests/run.sh again" >&2
  exit 1
fi

if ! command -v s3s-fs >/dev/null && [ -z "${S3S_FS:-}" ]; then
  echo "== installing s3s-fs (the tests' S3 server) with cargo install"
  cargo install s3s-fs --version 0.14.1 --features binary
fi

if [ -z "${PROMTOOL:-}" ]; then
  PROMTOOL=$(command -v promtool || true)
fi
if [ -z "$PROMTOOL" ]; then
  PROMTOOL=$PWD/target/tools/promtool
  if [ ! -x "$PROMTOOL" ]; then
    echo "== taking promtool out of Debian's prometheus package"
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
      # No package lists yet: fetch them (as root or with sudo), then again.
      if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; else sudo -n apt-get update -qq; fi
      (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || {
        echo "error: cannot download Debian's prometheus package for promtool; install promtool or set PROMTOOL and run tests/run.sh again" >&2
        exit 1
      }
    fi
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    mkdir -p target/tools
    cp "$tmp/x/usr/bin/promtool" "$PROMTOOL"
    rm -rf "$tmp"
  fi
fi
export PROMTOOL

docker/build-images.sh
exec cargo test "$@"
