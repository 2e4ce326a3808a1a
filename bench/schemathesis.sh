#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI) generates requests from openapi/openapi.json against a
# running server whose registries are the sandbox, and checks every answer against the
# spec: no 5xx, no undocumented status code, no body that breaks its schema, no valid
# request refused.
#
#   bash bench/schemathesis.sh            # CI's budget: 25 examples per operation
#   MAX_EXAMPLES=500 bash bench/schemathesis.sh   # a longer run (tens of minutes)
#
# Uses target/debug/kontragent (built by `cargo test`) unless BIN is given. Only ever
# connects to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/kontragent}"
if ! command -v st >/dev/null; then
    python3 -m pip install -q 'schemathesis>=4.32,<5'
    pyenv rehash 2>/dev/null || true
fi
# The CLI as installed, even where the scripts folder is not on PATH yet.
ST=$(command -v st || echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/st")
[ -x "$BIN" ] || cargo build

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SANDBOX_PORT=$(free_port)
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; }; rm -rf "$WORK"' EXIT

export KONTRAGENT__DATABASE__URL="sqlite://$WORK/fuzz.db"
# An admin key: the guard is part of what is tested (schemathesis also tries no key and
# a wrong one, and expects 401).
KEY=$("$BIN" keys create --name schemathesis --scopes admin | tail -n 1)

KONTRAGENT__SERVER__PORT="$PORT" KONTRAGENT__SANDBOX__PORT="$SANDBOX_PORT" \
KONTRAGENT__LOG__FILTER=error \
KONTRAGENT__MONITORING__ENABLED=false KONTRAGENT__LIMITS__CHECKS_PER_MINUTE=0 \
KONTRAGENT__LIMITS__PUBLIC_PER_MINUTE=0 KONTRAGENT__CHECK__MAX_WAIT_MS=2000 \
KONTRAGENT__RULES__WATCH_INTERVAL_MS=0 \
    "$BIN" serve --sandbox > "$WORK/server.log" 2>&1 &
SERVER=$!
# Python, not curl: a fresh machine has CPython for sure.
python3 - "$PORT" "$KEY" <<'PY'
import json, sys, time, urllib.request
port, key = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
for _ in range(200):
    try:
        urllib.request.urlopen(f"{base}/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
# A few known companies, so that reads find something.
for inn in ["7701000019", "7701000072", "770100000142"]:
    request = urllib.request.Request(
        f"{base}/v1/checks", data=json.dumps({"inn": inn}).encode(),
        headers={"content-type": "application/json", "x-api-key": key})
    urllib.request.urlopen(request, timeout=60)
PY

run() {
    "$ST" --config-file bench/schemathesis.toml run openapi/openapi.json --url "http://127.0.0.1:$PORT" \
        --exclude-checks positive_data_acceptance,ensure_resource_availability \
        --max-examples "$MAX_EXAMPLES" --seed 1 \
        --workers 2 --request-timeout 30 --warnings off \
        --suppress-health-check all -H "X-Api-Key: $KEY" -H "Authorization: Bearer $KEY" \
        "$@"
}
# Every check runs (the default), but for what bench/schemathesis.toml turns off on the rules
# routes' text bodies (`--checks all` would turn it back on: the command line wins).
# positive_data_acceptance is left out: it expects every schema-valid request to succeed,
# and some 422s are the domain's own (an INN's check digits, a ruleset that does not
# compile, a profile that does not exist) which no JSON Schema can express.
# ensure_resource_availability is left out: schemathesis reuses generated Idempotency-Key
# values, so a POST /v1/webhooks is rightly answered with the replay of an earlier one whose
# subscription a later step deleted, and the check takes that for a lost resource.
#
#
# The coverage phase is left out: under CPython 3.11.7 it fails now and then inside
# hypothesis itself ("AST constructor recursion depth mismatch"), on a different
# operation each time, without ever sending the request.
set +e
run --phases examples,fuzzing,stateful "$@"
STATUS=$?
set -e
if grep -q "panicked" "$WORK/server.log"; then
    echo "the server panicked:" && grep -A5 panicked "$WORK/server.log"
    STATUS=1
fi
exit $STATUS
