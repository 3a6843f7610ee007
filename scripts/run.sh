#!/usr/bin/env bash
# `make run`: a local caredesk with demo data — the production server and the worker,
# started together, stopped together (Ctrl-C, or either one exiting).
#
# Settings come from the environment like in production; defaults here make a demo:
# DEBUG off (the real server path), CAREDESK_DEMO on (DEMO badge), email printed by
# the worker instead of sent. Override any of them: `PORT=9000 make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${VENV:-.venv}/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
SMTPD_PORT=${SMTPD_PORT:-2525}
URL="http://$HOST:$PORT"
export DJANGO_SETTINGS_MODULE=caredesk.settings
export DEBUG=${DEBUG:-false}
export CAREDESK_DEMO=${CAREDESK_DEMO:-true}
export SITE_URL=${SITE_URL:-$URL}
export EMAIL_BACKEND=${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}
export PYTHONUNBUFFERED=1
VAR_DIR=${CAREDESK_VAR_DIR:-var}
mkdir -p "$VAR_DIR"

# The processes, one line each: "name|command". Add a process here and it is started,
# labelled, and stopped with the others (the web server, the worker and the SMTP intake).
PROCESSES=(
    "web|$BIN/caredesk serve --host $HOST --port $PORT"
    "worker|$BIN/caredesk worker --worker-id ${HOSTNAME:0:40}-run"
    "smtpd|$BIN/caredesk smtpd --host $HOST --port $SMTPD_PORT"
)

for setting in PORT SMTPD_PORT; do
    port=${!setting}
    if ! "$BIN/python" -c 'import socket, sys; socket.create_server((sys.argv[1], int(sys.argv[2]))).close()' "$HOST" "$port" 2>/dev/null; then
        echo "Port $port on $HOST is in use (another caredesk?). Stop it, or choose another: $setting=$((port + 1)) make run" >&2
        exit 1
    fi
done

echo "==> Migrating the database"
"$BIN/caredesk" migrate --noinput --verbosity 0
if [ ! -e "$VAR_DIR/.demo-loaded" ]; then
    echo "==> Loading demo data (first run only; rm $VAR_DIR/.demo-loaded to load it again)"
    "$BIN/caredesk" demo --force
    touch "$VAR_DIR/.demo-loaded"
fi

pids=()
names=()
stopping=0
stop_all() {
    [ "$stopping" -eq 1 ] && return
    stopping=1
    echo
    echo "==> Stopping ${names[*]}"
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    echo "==> Stopped"
}
trap 'stop_all; exit 0' INT TERM HUP
trap stop_all EXIT

# Each process runs in its own process group (job control), so a Ctrl-C in the terminal
# reaches only this script, which then sends every process exactly one SIGTERM: the
# graceful stop for granian, the worker and the rest (a second signal would abort a task).
# Should this script die without running its traps (SIGKILL), the kernel sends each of
# them SIGTERM anyway (parent-death signal), so nothing is left running.
orphan_guard=()
if setpriv --pdeathsig TERM true 2>/dev/null; then
    orphan_guard=(setpriv --pdeathsig TERM --)
fi
set -m
for entry in "${PROCESSES[@]}"; do
    name=${entry%%|*}
    command=${entry#*|}
    # Label each output line; the labeller ignores signals so that the last lines of a
    # stopping process are still printed.
    # shellcheck disable=SC2086  # the command line is split on purpose
    "${orphan_guard[@]}" $command > >(trap '' INT TERM HUP; exec sed -u "s/^/$(printf '%-7s|' "$name") /") 2>&1 &
    pids+=($!)
    names+=("$name")
done
set +m

# Wait for the web server to answer /healthz, then say where everything is.
"$BIN/python" - "$URL/healthz" "${pids[0]}" <<'PY' || exit 1
import os, sys, time, urllib.request

url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("caredesk serve exited before it answered " + url)
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(f"no answer from {url} after 60 s")
PY

cat <<EOF

  caredesk is running (DEBUG=$DEBUG, CAREDESK_DEMO=$CAREDESK_DEMO)

    Agent workspace   $URL/agent/
    Requester portal  $URL/portal/
    Admin             $URL/admin/
    REST API docs     $URL/api/v1/docs
    Widget script     $URL/widget.js   (embed: <script src="$URL/widget.js" data-caredesk async></script>)
    Mail ledger       $URL/agent/mail/   (managers)
    Health            $URL/healthz

  Send a test email to the SMTP intake on $HOST:$SMTPD_PORT, e.g.:
    $BIN/python -c "import smtplib; smtplib.SMTP('$HOST', $SMTPD_PORT).sendmail('you@example.org', ['support@demo.caredesk.test'], b'From: you@example.org\\r\\nTo: support@demo.caredesk.test\\r\\nSubject: Hello from email\\r\\n\\r\\nIt works?\\r\\n')"
  It becomes a ticket in the unclaimed queue within a second.

  Demo logins, password "demo" for all:
    requester   requester@demo.caredesk.test    portal
    requester   requester2@demo.caredesk.test   portal (another organization)
    agent       agent@demo.caredesk.test        workspace
    agent       agent2@demo.caredesk.test       workspace
    manager     manager@demo.caredesk.test      workspace, admin
    developer   developer@demo.caredesk.test    portal

  Email is printed by the worker below (EMAIL_BACKEND=console). Ctrl-C stops everything.

EOF

# Run until Ctrl-C, or until any process exits (then stop the others too).
set +e
wait -n "${pids[@]}"
status=$?
if [ "$stopping" -eq 0 ]; then
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "==> ${names[$i]} exited (status $status); stopping the rest" >&2
        fi
    done
    stop_all
    exit "$status"
fi
