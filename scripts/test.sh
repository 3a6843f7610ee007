#!/usr/bin/env bash
# Everything CI checks, in order: system packages, lint, migrations, the whole suite on
# SQLite, then the whole suite again on a private throwaway PostgreSQL server.
# Called by `make test` after the venv is ready; extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
BIN=$VENV/bin
PYTEST_ARGS=("$@")
# Two processes (pytest-xdist), each with its own test database on both backends.
# worksteal balances uneven test durations; a module may then run on both workers, so a
# module-scoped fixture can start twice and tests must not depend on each other's order.
XDIST=(-n "${PYTEST_WORKERS:-2}" --dist worksteal)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ------------------------------------------------------------------ system packages
# chromium: browser tests; postgresql: the second pass; dovecot-imapd: IMAP tests.
pg_bin() { { ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -n 1; }
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
if [ ${#missing[@]} -gt 0 ]; then
    step "Installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q "${missing[@]}"
fi

# ------------------------------------------------------------------ static checks
step "ruff check"
"$BIN/ruff" check .
step "ruff format --check"
"$BIN/ruff" format --check .
step "makemigrations --check"
# A throwaway var dir: the check must not create files (secret key, database) in var/.
scratch=$(mktemp -d)
cleanup_scratch() { rm -rf "$scratch"; }
trap cleanup_scratch EXIT
env -u DATABASE_URL CAREDESK_VAR_DIR="$scratch" "$BIN/caredesk" makemigrations --check --dry-run

# ------------------------------------------------------------------ SQLite
export DJANGO_ALLOW_ASYNC_UNSAFE=true # Playwright's event loop + Django ORM (see conftest)
step "pytest on SQLite"
env -u DATABASE_URL -u DB "$BIN/pytest" "${XDIST[@]}" "${PYTEST_ARGS[@]}"

# ------------------------------------------------------------------ PostgreSQL
step "pytest on PostgreSQL (private server)"
PG=$(pg_bin)
pgdir=$(mktemp -d /tmp/caredesk-pg.XXXXXX)
chmod 755 "$pgdir"
# initdb refuses to run as root: run the server as the postgres OS user when we are root.
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$pgdir"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
stop_pg() {
    if [ -f "$pgdir/data/postmaster.pid" ]; then
        as_pg "$PG/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$pgdir"
    cleanup_scratch
}
trap stop_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PG/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 \
    || { cat "$pgdir/initdb.log"; exit 1; }
# A throwaway server: durability off for speed, socket and TCP on loopback only.
as_pg "$PG/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 start -o \
    "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    >/dev/null || { cat "$pgdir/server.log"; exit 1; }
echo "PostgreSQL $("$PG/postgres" -V | awk '{print $3}') on 127.0.0.1:$port (data in $pgdir)"
DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" "$BIN/pytest" "${XDIST[@]}" "${PYTEST_ARGS[@]}"

step "All checks passed"
