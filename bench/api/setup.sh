#!/usr/bin/env bash
# The API benchmark's baseline, installed by its own setup for `make bench`: a 3-member etcd
# cluster needs Debian's etcd-server (etcd 3.4). Idempotent.
set -euo pipefail
if ! command -v etcd >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "bench/api: need root or sudo to install etcd-server" >&2; exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends etcd-server
  # Debian starts the packaged service where systemd runs; the benchmark starts its own members.
  $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
fi
echo "bench/api: $(etcd --version | head -1)"
