# Shared by the bench scripts (sourced, not run).

# Sets URL (and NAME for PostgreSQL) to a fresh database: a new PostgreSQL database on $DB
# when DB is set, else an SQLite file in $WORK.
bench_database() {
    if [[ -n "${DB:-}" ]]; then
        NAME="kt_bench_$$"
        psql "$DB" -qc "CREATE DATABASE $NAME"
        URL="${DB%/*}/$NAME"
    else
        URL="sqlite://$WORK/bench.db"
    fi
}

# Installs a Debian package's command when it is missing (wrk, python3).
bench_need() {
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing $2 (apt-get)" >&2
    apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
}
