#!/usr/bin/env bash
# The OpenAPI document a running node serves (GET /v1/openapi.json, no client certificate)
# passes a real validator: `swagger-cli validate` from npm (tests/openapi/setup.sh installs it
# from the committed lockfile). That every route the router answers is described is checked
# by the unit test NodeCluster.ApiServesWritesReceiptsAndRefusesBadRequests (node::api_routes()).
set -uo pipefail
sn=$1
base_port=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap '"$sn" down --dir "$work/net" >/dev/null 2>&1; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

"$here/openapi/setup.sh" || fail "cannot install the validator (tests/openapi/setup.sh)"
"$sn" up --nodes 3 --dir "$work/net" --base-port "$base_port" > /dev/null || fail "supernet up"
api=$(sed -nE 's/^api_listen = "([^"]*)"/\1/p' "$work/net/node-1/node.toml")
# The document needs no certificate; the node's own is an attested one the validator need not trust.
node -e '
  const https = require("https");
  https.get("https://" + process.argv[1] + "/v1/openapi.json", { rejectUnauthorized: false }, (res) => {
    let body = "";
    res.on("data", (c) => (body += c));
    res.on("end", () => {
      if (res.statusCode !== 200) { console.error("status " + res.statusCode); process.exit(1); }
      require("fs").writeFileSync(process.argv[2], body);
    });
  }).on("error", (e) => { console.error(e.message); process.exit(1); });
' "$api" "$work/openapi.json" || fail "cannot fetch /v1/openapi.json from node 1"
grep -q '"openapi": "3.1.0"' "$work/openapi.json" || fail "the document is not OpenAPI 3.1.0"
"$here/openapi/node_modules/.bin/swagger-cli" validate "$work/openapi.json" || fail "swagger-cli refuses the served document"
echo "1 passed, 0 failed"
