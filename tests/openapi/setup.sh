#!/usr/bin/env bash
# The OpenAPI check's own setup: Node.js and npm from Debian (apt-get, when missing), then
# @apidevtools/swagger-cli from the committed lockfile into tests/openapi/node_modules.
# Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/ensure-nodejs.sh"
if [ ! -x "$here/node_modules/.bin/swagger-cli" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
