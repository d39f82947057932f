#!/usr/bin/env bash
# The homomorphic-encryption baseline's own setup for `make bench`: Node.js and npm from Debian
# (apt-get, when missing), then node-seal (Microsoft SEAL compiled to WebAssembly) from npm into
# bench/he/node_modules. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../scripts/ensure-nodejs.sh"
if [ ! -d "$here/node_modules/node-seal" ]; then
  (cd "$here" && npm install --no-audit --no-fund --loglevel=error)
fi
echo "bench/he: node $(node --version), node-seal ready"
