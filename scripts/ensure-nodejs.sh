#!/usr/bin/env bash
# Node.js and npm from Debian (apt-get), when either command is missing; used by the setups of
# the npm-based checks and baselines (bench/he, tests/openapi). Idempotent.
set -euo pipefail
if command -v node >/dev/null && command -v npm >/dev/null; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "ensure-nodejs: need root or sudo to install nodejs and npm" >&2; exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
