#!/usr/bin/env bash
# The cached path against the stack's own ceiling: wrk against the release binary serving
# the sandbox, every figure measured in the same run as `GET /healthz` and printed as a ratio
# to it (the machines are shared and noisy: ratios, not absolute numbers, compare runs).
#
#   bash bench/api.sh                                                   # SQLite
#   DB=postgres://postgres@127.0.0.1:5432/postgres bash bench/api.sh    # PostgreSQL
#   BIN=/path/to/kontragent bash bench/api.sh                           # another build
#
# P1: cached `POST /v1/checks` and `GET /v1/counterparties/{inn}` (req/s, p50, p99, ratio),
#     with 1 stored check of the INN and again after HISTORY (default 100000) stored checks.
# P5: RSS per cached dossier ÷ its JSON size, over DOSSIERS (default 5000) distinct INNs; the
#     rate of those cold checks is P4's reference for bench/monitoring.sh (same INNs, same
#     concurrency).
# Installs wrk and python3 with apt-get when missing; seeds history rows directly.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
HISTORY="${HISTORY:-100000}"
DOSSIERS="${DOSSIERS:-5000}"
DURATION="${DURATION:-8s}"
SANDBOX_PORT="${SANDBOX_PORT:-18490}"
PORT="${PORT:-18480}"
INN=7701000019
WORK="$(mktemp -d)"
bench_need wrk wrk
bench_need python3 python3
if [[ -z "${BIN:-}" ]]; then
    cargo build --release --quiet
    BIN=target/release/kontragent
fi

bench_database
export KONTRAGENT__DATABASE__URL="$URL" KONTRAGENT__SERVER__PORT="$PORT" \
    KONTRAGENT__SANDBOX__PORT="$SANDBOX_PORT" KONTRAGENT__LOG__FILTER=error \
    KONTRAGENT__LIMITS__CHECKS_PER_MINUTE=0 KONTRAGENT__LIMITS__PUBLIC_PER_MINUTE=0 \
    KONTRAGENT__MONITORING__ENABLED=false

SERVER=""
start() {
    "$BIN" serve --sandbox >"$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "localhost:$PORT/healthz" >/dev/null && return; sleep 0.1; done
    echo "the server did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1
}
stop() { [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true; SERVER=""; }
cleanup() {
    stop
    [[ -n "${DB:-}" ]] && psql "$DB" -qc "DROP DATABASE IF EXISTS $NAME" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"inn": "$INN"}'
wrk.headers["Content-Type"] = "application/json"
EOF

# "req/s p50_ms p99_ms" of one wrk run.
measure() {
    wrk -t2 -c16 -d"$DURATION" --latency "$@" >"$WORK/wrk.txt" 2>&1
    python3 - "$WORK/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\b" % label, t, re.M)
    if not m: return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
print("%.0f %.2f %.2f %s" % (float(rps.group(1)) if rps else 0, ms("50%"), ms("99%"), non2xx.group(1) if non2xx else 0))
PY
}

report() { # label, healthz req/s, "rps p50 p99 errors"
    read -r rps p50 p99 errors <<<"$3"
    python3 -c "import sys; h,r=float(sys.argv[2]),float(sys.argv[3]); print('%-44s %8.0f req/s  p50 %6s ms  p99 %7s ms  ratio to /healthz %.3f  non-2xx %s' % (sys.argv[1], r, sys.argv[4], sys.argv[5], r/h if h else 0, sys.argv[6]))" \
        "$1" "$2" "$rps" "$p50" "$p99" "$errors"
}

p1() { # label suffix
    local health checks dossier
    # The dossier first: the POST run adds thousands of checks of the INN to its history.
    health=$(measure "http://localhost:$PORT/healthz")
    dossier=$(measure "http://localhost:$PORT/v1/counterparties/$INN")
    checks=$(measure -s "$WORK/post.lua" "http://localhost:$PORT/v1/checks")
    read -r h _ <<<"$health"
    report "GET /healthz $1" "$h" "$health"
    report "GET /v1/counterparties/{inn} $1" "$h" "$dossier"
    report "POST /v1/checks, cached $1" "$h" "$checks"
}

echo "database: $([[ -n "${DB:-}" ]] && echo postgres || echo sqlite)   binary: $BIN   wrk -t2 -c16 -d$DURATION"
start
curl -sf "localhost:$PORT/v1/checks" -H 'content-type: application/json' -d "{\"inn\":\"$INN\"}" >/dev/null
stop
# One cold check stored the INN's answers; restarted, the server reads them from the
# database (one more check, from stored snapshots) and then serves from memory.
start
curl -sf "localhost:$PORT/v1/checks" -H 'content-type: application/json' -d "{\"inn\":\"$INN\"}" >/dev/null
p1 "(1 stored check)"
stop

# History: HISTORY more finished checks of the INN, copies of a stored one dated earlier.
python3 - "$URL" "$INN" "$HISTORY" <<'PY'
import sys, uuid, subprocess
url, inn, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cols = "id, inn, state, decision, score, profile, ruleset_version, created_at, checked_at, document, facts, callback_url"
pick = "SELECT %s FROM checks WHERE inn = '%s' AND state = 'done' ORDER BY checked_at LIMIT 1" % (cols, inn)
if url.startswith("sqlite"):
    import sqlite3
    con = sqlite3.connect(url[len("sqlite://"):])
    row = con.execute(pick).fetchone()
    rows = [(str(uuid.uuid4()),) + row[1:7] + (row[7] - 1000 * (i + 1), row[8] - 1000 * (i + 1)) + row[9:] for i in range(n)]
    con.executemany("INSERT INTO checks (%s) VALUES (%s)" % (cols, ",".join("?" * 12)), rows)
    con.commit()
else:
    sql = ("INSERT INTO checks (%s) SELECT gen_random_uuid()::text, inn, state, decision, score, profile, ruleset_version, "
           "created_at - 1000 * g, checked_at - 1000 * g, document, facts, callback_url FROM (%s) c, generate_series(1, %d) g"
           % (cols, pick, n))
    subprocess.run(["psql", url, "-qc", sql], check=True)
PY
start
curl -sf "localhost:$PORT/v1/checks" -H 'content-type: application/json' -d "{\"inn\":\"$INN\"}" >/dev/null
p1 "(+$HISTORY stored checks)"
stop

# P5: memory per cached dossier. DOSSIERS cold checks of distinct INNs fill the caches.
start
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
python3 - "$PORT" 20 <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
def inn(i):
    W = [2, 4, 10, 3, 5, 9, 4, 6, 8]
    p = "77050%04d" % i
    return p + str(sum(int(a) * b for a, b in zip(p, W)) % 11 % 10)
for i in range(int(sys.argv[2])):
    req = urllib.request.Request("http://localhost:%s/v1/checks" % port, data=json.dumps({"inn": inn(i)}).encode(),
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
PY
before=$(rss)
python3 - "$PORT" "$DOSSIERS" "$WORK/json" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def inn(i):
    W = [2, 4, 10, 3, 5, 9, 4, 6, 8]
    p = "77050%04d" % i
    return p + str(sum(int(a) * b for a, b in zip(p, W)) % 11 % 10)
def check(i):
    req = urllib.request.Request("http://localhost:%s/v1/checks" % port, data=json.dumps({"inn": inn(i)}).encode(),
                                 headers={"content-type": "application/json"})
    return len(urllib.request.urlopen(req).read())
import time
started = time.time()
with ThreadPoolExecutor(16) as pool:
    sizes = list(pool.map(check, range(20, 20 + n)))
took = time.time() - started
open(out, "w").write(str(sum(sizes) / len(sizes)))
# The cold checks themselves: what bench/monitoring.sh compares monitoring's re-checks with.
print("P4 reference: %d cold checks through the API (concurrency 16) in %.1f s -> %.1f checks/s" % (n, took, n / took))
PY
after=$(rss)
python3 -c "import sys; b,a,n,j=int(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]); per=(a-b)*1024/n; print('P5 RSS per cached dossier: %.0f bytes, its JSON %.0f bytes, ratio %.2f (RSS %d -> %d KiB over %d dossiers)' % (per, j, per/j, b, a, n))" \
    "$before" "$after" "$DOSSIERS" "$(cat "$WORK/json")"
stop
