#!/usr/bin/env bash
# The OpenAPI check's own setup: Node.js and npm from Debian (apt-get, when missing), then
# @apidevtools/swagger-cli from the committed lockfile into tests/openapi/node_modules.
# Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "tests/openapi: need root or sudo to install nodejs and npm" >&2; exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [ ! -x "$here/node_modules/.bin/swagger-cli" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
