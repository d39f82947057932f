// The REST API's OpenAPI 3.1 description, served at GET /v1/openapi.json (3.1: the mutualTLS
// security scheme exists only there). Checked by a real validator (tests/openapi.sh).
#include "node/api.h"

namespace supernet::node {

const std::string& openapi_json() {
  static const std::string doc = R"json({
  "openapi": "3.1.0",
  "info": {
    "title": "SuperNet node API",
    "version": "1",
    "description": "HTTPS (TLS 1.3) with the node's RA-TLS certificate. Clients authenticate with a certificate whose public key (SHA-256 of its DER SubjectPublicKeyInfo) the genesis lists; other requests get 401. Bodies over 262144 bytes (4 MiB for /v1/tx/batch, 64 MiB for /v1/data/{name}) get 413 before they are read. Past the node's bound on requests in flight the answer is 503 with Retry-After. docs/api.md lists every limit."
  },
  "components": {
    "schemas": {
      "Error": {"type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
      "Write": {"type": "object", "required": ["table", "key"],
                "properties": {"table": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                               "key": {"type": "string", "minLength": 1, "maxLength": 256},
                               "value": {"type": "string", "description": "text value (give this or value_hex)"},
                               "value_hex": {"type": "string", "description": "binary value, hex (at most 48 KiB)"},
                               "nonce": {"type": "integer", "minimum": 0,
                                         "description": "makes the write a distinct transaction; resending the same body is idempotent"}}},
      "Submitted": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "committed"]},
                                                    "height": {"type": "integer"}}},
      "BatchResult": {"type": "object", "required": ["status"],
                      "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "committed", "refused"]},
                                     "height": {"type": "integer"}, "error": {"type": "string", "description": "why it was refused (the codes of POST /v1/tx)"},
                                     "message": {"type": "string"}}},
      "Transaction": {"type": "object",
                      "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "committed", "invalid"]},
                                     "height": {"type": "integer"}, "index": {"type": "integer"}, "epoch": {"type": "integer"},
                                     "tx": {"type": "object"},
                                     "receipt": {"type": "string", "description": "hex receipt proof; check offline with `supernet receipt verify`"}}}
    },
    "parameters": {
      "wait_ms": {"name": "wait_ms", "in": "query", "required": false,
                  "description": "answer once the write(s) committed, or after this many milliseconds (at most 30000) with their status then",
                  "schema": {"type": "integer", "minimum": 0, "maximum": 30000}}
    },
    "securitySchemes": {"mutualTLS": {"type": "mutualTLS"}}
  },
  "security": [{"mutualTLS": []}],
  "paths": {
    "/v1/tx": {"post": {"summary": "Write a value to the key-value state",
      "parameters": [{"$ref": "#/components/parameters/wait_ms"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Write"}}}},
      "responses": {"202": {"description": "accepted, pending", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submitted"}}}},
                    "200": {"description": "already committed (a retry)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submitted"}}}},
                    "400": {"description": "malformed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "401": {"description": "unauthenticated"}, "413": {"description": "body too large"},
                    "503": {"description": "queue full or node failed: retry, possibly at another node"}}}},
    "/v1/tx/batch": {"post": {"summary": "Up to 1000 writes in one request; one status per write, in order (a write refused for its content does not stop the others)",
      "parameters": [{"$ref": "#/components/parameters/wait_ms"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["writes"],
        "properties": {"writes": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/Write"}}}}}}},
      "responses": {"200": {"description": "results (one per write), accepted, committed", "content": {"application/json": {"schema": {"type": "object",
                      "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/BatchResult"}},
                                     "accepted": {"type": "integer"}, "committed": {"type": "integer"}}}}}},
                    "400": {"description": "not a batch, or more than 1000 writes", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "401": {"description": "unauthenticated"}, "413": {"description": "body over 4 MiB"},
                    "503": {"description": "busy: retry after Retry-After"}}}},
    "/v1/tx/{id}": {"get": {"summary": "A transaction's status, with a receipt proof once committed",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                     {"$ref": "#/components/parameters/wait_ms"}],
      "responses": {"200": {"description": "pending, committed or invalid", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Transaction"}}}},
                    "400": {"description": "not a transaction id"}, "401": {"description": "unauthenticated"},
                    "404": {"description": "unknown to this node"}}}},
    "/v1/kv/{table}/{key}": {"get": {"summary": "The committed value of a key",
      "parameters": [{"name": "table", "in": "path", "required": true, "schema": {"type": "string"}},
                     {"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "table, key, value or value_hex, height"}, "401": {"description": "unauthenticated"},
                    "404": {"description": "no value"}}}},
    "/v1/attestation": {"get": {"summary": "Fresh evidence over this connection's TLS exporter (label EXPORTER-supernet-api-attestation), with the node's certificate key, identity key and chain",
      "responses": {"200": {"description": "evidence, platform, identity_key, chain"}, "401": {"description": "unauthenticated"}}}},
    "/v1/recovery/state": {"get": {"summary": "What this node reports for a recovery after a total stop: its committed tip (height, tip, tip_block, base), the last vote it recorded above it (last_vote: height, round, vote, block) and its attested rotation to its new checker key (while it cannot sign)",
      "responses": {"200": {"description": "node, height, can_sign, tip, tip_block, base, last_vote, rotation"}, "401": {"description": "unauthenticated"}}}},
    "/v1/recovery": {
      "get": {"summary": "Recoveries this node holds: id, height, note, approvals and approvals needed, state (applied, behind, or why not yet), and the request itself",
        "responses": {"200": {"description": "recoveries"}, "401": {"description": "unauthenticated"}}},
      "post": {"summary": "Hand this node a recovery with members' approvals (merged with those it holds for the same recovery); `supernet recover` and `supernet governance approve` build these",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["recovery", "rotations", "approvals"],
          "properties": {"recovery": {"type": "string", "description": "hex SNRY transaction"},
                         "rotations": {"type": "array", "items": {"type": "string"}, "description": "hex key rotations it names"},
                         "carried": {"type": "array", "maxItems": 4, "items": {"type": "string"}, "description": "hex blocks it keeps above its base"},
                         "approvals": {"type": "array", "items": {"type": "object", "properties": {"spki": {"type": "string"}, "signature": {"type": "string"}}}}}}}}},
        "responses": {"200": {"description": "state: applied, behind, or the approvals it still needs"}, "400": {"description": "malformed, or a recovery that can never apply here (reason given)"},
                      "401": {"description": "unauthenticated"}, "403": {"description": "not a member"}}}},
    "/v1/nodes": {"get": {"summary": "Validators: weight, keys, addresses, attested connection, isolation and its evidence, and this node's failure detector's view (suspected, phi)",
      "responses": {"200": {"description": "chain_id, protocol, epoch, total_weight, quorum_weight, nodes"}, "401": {"description": "unauthenticated"}}}},
    "/v1/governance": {
      "get": {"summary": "Members, approvals needed, measurements allowed by governance, and every proposal with its approvals and status",
        "responses": {"200": {"description": "members, approvals_needed, measurements, proposals"}, "401": {"description": "unauthenticated"}}},
      "post": {"summary": "Submit a member-signed governance transaction (propose add_node, remove_node, set_weight or set_measurements; or approve a proposal). The signing key must be the connection's client key; `supernet governance` builds and signs these.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["tx"], "properties": {"tx": {"type": "string", "description": "hex"}}}}}},
        "responses": {"202": {"description": "accepted, pending"}, "400": {"description": "malformed or not valid now (reason given)"},
                      "401": {"description": "unauthenticated"}, "403": {"description": "not a member, or signed by another key"}}}},
    "/v1/data/{name}": {"post": {"summary": "Register a CSV data set at this node, owned by the client (?label_column=C); it is parsed in memory and sealed with its schema, which records the owner and the data's hash",
      "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                     {"name": "label_column", "in": "query", "required": false, "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"text/csv": {}}},
      "responses": {"201": {"description": "the schema"}, "400": {"description": "malformed CSV (line and column given)"},
                    "403": {"description": "the client holds the most data sets one client may at a node (16)"},
                    "409": {"description": "the name exists"}, "413": {"description": "over 64 MiB"}}},
      "delete": {"summary": "Delete a data set (its owner only); a job that used it is refused its next request. Replace: delete, then register the new version (another data_sha256)",
      "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "deleted"}, "403": {"description": "not the owner"}, "404": {"description": "no such data set"},
                    "409": {"description": "its sealed schema does not unseal (tampered): only the operator can remove the files"}}}},
    "/v1/fl/jobs/{id}/consent": {"post": {"summary": "A data owner consents to a job that another client submitted training on its data sets: the consent transaction (job id, nonce) signed with the owner's client key; `supernet data consent` builds and signs it. Parties train for such a job only once the ledger holds it",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["tx"], "properties": {"tx": {"type": "string", "description": "hex"}}}}}},
      "responses": {"202": {"description": "accepted"}, "400": {"description": "malformed, or for another job"}, "403": {"description": "not signed by this connection's client"},
                    "404": {"description": "unknown job"}, "409": {"description": "the job has ended"}}}},
    "/v1/data": {"get": {"summary": "This node's data sets: schema (owner, row counts, csv_sha256, data_sha256), never rows; a schema that does not unseal is listed with a problem", "responses": {"200": {"description": "datasets"}}}},
    "/v1/fl/jobs": {
      "post": {"summary": "Submit a federated learning job (members): the job transaction (the job TOML and a nonce) signed with the submitting member's client key, which every node checks when it applies it; `supernet fl submit` builds and signs it",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["tx"], "properties": {"tx": {"type": "string", "description": "hex"}}}}}},
        "responses": {"202": {"description": "accepted"}, "400": {"description": "invalid job"}, "403": {"description": "not a member, or not signed by a member's key"}}},
      "get": {"summary": "Every job, with its status", "responses": {"200": {"description": "jobs"}}}},
    "/v1/fl/jobs/{id}": {"get": {"summary": "A job and its round records from the ledger; status running, finished, or failed with a failure reason (recorded on the ledger by the aggregator that gave it up)",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the job"}, "404": {"description": "unknown"}}}},
    "/v1/fl/jobs/{id}/model": {"get": {"summary": "The final model, for the clients the job names as model_readers, and at a party's node for the owner of its data set",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "params and model hash"}, "403": {"description": "not a model reader"},
                    "404": {"description": "this node does not hold it"}, "409": {"description": "not finished"}}}},
    "/v1/health": {"get": {"summary": "Liveness of this node (no authentication)", "security": [],
      "responses": {"200": {"description": "ok (status, node, height, round, can_sign, quorum_reachable, suspected, storage_failed)"}, "503": {"description": "degraded: storage failed, no quorum reachable, or cannot sign yet"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics (text format 0.0.4)",
      "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}, "401": {"description": "unauthenticated"}}}},
    "/v1/openapi.json": {"get": {"summary": "This document (no authentication)", "security": [],
      "responses": {"200": {"description": "OpenAPI 3.1"}}}}
  }
}
)json";
  return doc;
}

}  // namespace supernet::node
