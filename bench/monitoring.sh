#!/usr/bin/env bash
# Monitoring throughput: re-check a catalog of N contractors (default 10000) against the
# sandbox with rate limits off, and report contractors per second and the serving process's
# peak memory (VmHWM). The contractors are the sandbox's 77050xxxxx family, which goes
# bankrupt on the second check, so every pass also records events and a status change.
#
#   bash bench/monitoring.sh            # SQLite
#   DB=postgres://postgres@127.0.0.1:5432/postgres bash bench/monitoring.sh
#
# Needs python3 (installed with apt-get when missing) to seed the catalog table directly,
# which is much faster than 10 000 API calls.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_need python3 python3
N="${N:-10000}"
CONCURRENCY="${CONCURRENCY:-16}"
WORK="$(mktemp -d)"
SANDBOX_PORT="${SANDBOX_PORT:-18390}"
PORT="${PORT:-18380}"
cargo build --release --quiet
BIN=target/release/kontragent

bench_database
export KONTRAGENT__DATABASE__URL="$URL"
"$BIN" migrate >/dev/null

python3 - "$URL" "$N" <<'PY'
import sys, time
url, n = sys.argv[1], int(sys.argv[2])
W = [2, 4, 10, 3, 5, 9, 4, 6, 8]
def inn(i):
    p = "77050%04d" % i
    return p + str(sum(int(a) * b for a, b in zip(p, W)) % 11 % 10)
now = int(time.time() * 1000)
rows = [(inn(i), 'ООО "ПОВОРОТ-%s"' % inn(i), 'поворот %s' % inn(i), None, '{}', '[]', '{}', 'active', now, now, None, 0) for i in range(n)]
sql = ("INSERT INTO catalog (inn, name, search, region, contacts, services, external_ids, status, listed_at, "
       "updated_at, last_check_id, next_check_at) VALUES (%s)")
if url.startswith("sqlite"):
    import sqlite3
    con = sqlite3.connect(url[len("sqlite://"):])
    con.executemany(sql % ",".join("?" * 12), rows)
    con.commit()
else:
    import subprocess
    values = ",\n".join("('%s','%s','%s',NULL,'{}','[]','{}','active',%d,%d,NULL,0)" % (r[0], r[1].replace("'", "''"), r[2], now, now) for r in rows)
    statement = ("INSERT INTO catalog (inn, name, search, region, contacts, services, external_ids, status, "
                 "listed_at, updated_at, last_check_id, next_check_at) VALUES " + values + ";")
    subprocess.run(["psql", url, "-q"], input=statement, text=True, check=True)
PY

"$BIN" sandbox --port "$SANDBOX_PORT" >/dev/null 2>&1 &
SANDBOX=$!
export KONTRAGENT__SERVER__PORT="$PORT" KONTRAGENT__LOG__FILTER=error \
    KONTRAGENT__MONITORING__TICK_MS=100 KONTRAGENT__MONITORING__BATCH=200 \
    KONTRAGENT__MONITORING__CONCURRENCY="$CONCURRENCY" KONTRAGENT__MONITORING__MAX_AGE_S=0 \
    KONTRAGENT__MONITORING__INTERVAL_S=86400 KONTRAGENT__SOURCES__KAD__COOKIE="wasm=0123456789abcdef0123456789abcdef"
for s in EGRUL PB FEDRESURS BANKROT KAD; do
    export "KONTRAGENT__SOURCES__${s}__BASE_URL=http://127.0.0.1:$SANDBOX_PORT" \
        "KONTRAGENT__SOURCES__${s}__RPS=0" "KONTRAGENT__SOURCES__${s}__POLL_INTERVAL_MS=5" \
        "KONTRAGENT__SOURCES__${s}__REQUEST_GAP_MS=0" "KONTRAGENT__SOURCES__${s}__CAPTCHA_PAUSE_S=0"
done
START=$(date +%s.%N)
"$BIN" serve &
SERVER=$!
trap 'kill $SERVER $SANDBOX 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 - "$URL" "$N" <<'PY'
import sys, time, subprocess
url, n = sys.argv[1], int(sys.argv[2])
def left():
    if url.startswith("sqlite"):
        import sqlite3
        con = sqlite3.connect(url[len("sqlite://"):], timeout=30)
        return con.execute("SELECT count(*) FROM catalog WHERE passes = 0").fetchone()[0]
    out = subprocess.run(["psql", url, "-Atc", "SELECT count(*) FROM catalog WHERE passes = 0"], capture_output=True, text=True)
    return int(out.stdout.strip() or n)
while left() > 0:
    time.sleep(0.5)
PY
END=$(date +%s.%N)
PEAK=$(grep VmHWM "/proc/$SERVER/status" | awk '{print $2, $3}')
SECS=$(python3 -c "print(round($END - $START, 1))")
RATE=$(python3 -c "print(round($N / ($END - $START), 1))")
echo "contractors: $N  database: ${URL%%:*}  concurrency: $CONCURRENCY"
echo "wall time (incl. start-up): ${SECS} s  →  ${RATE} contractors/s"
echo "serve peak RSS (VmHWM): $PEAK"
if [[ -n "${DB:-}" ]]; then kill $SERVER; wait $SERVER 2>/dev/null || true; psql "$DB" -qc "DROP DATABASE $NAME"; fi
