#!/usr/bin/env bash
# The homomorphic-encryption baseline's own setup for `make bench`: Node.js and npm from Debian
# (apt-get, when missing), then node-seal (Microsoft SEAL compiled to WebAssembly) from npm into
# bench/he/node_modules. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "bench/he: need root or sudo to install nodejs and npm" >&2; exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [ ! -d "$here/node_modules/node-seal" ]; then
  (cd "$here" && npm install --no-audit --no-fund --loglevel=error)
fi
echo "bench/he: node $(node --version), node-seal ready"
