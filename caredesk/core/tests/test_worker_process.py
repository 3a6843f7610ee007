"""``caredesk worker`` as a real long-running process: delivers email, stops on SIGTERM."""

import signal

from .subprocesses import (
    caredesk,
    isolated_env,
    migrate,
    run,
    sqlite_pass_only,
    start,
    stop,
    wait_until,
)

pytestmark = sqlite_pass_only

ENQUEUE = (
    "from caredesk.outbox.services import enqueue_email; "
    "enqueue_email(['alice@acme.test'], 'Delivered by the running worker', 'Hello.')"
)


def test_it_delivers_while_running_and_stops_cleanly_on_sigterm(tmp_path):
    env = isolated_env(tmp_path, EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
    migrate(env)
    log = tmp_path / "worker.log"
    proc = start(caredesk("worker", "--interval", "0.2"), env, log)
    try:
        wait_until(lambda: "started" in log.read_text(), proc, log, "caredesk worker")
        run(env, "shell", "--no-imports", "-c", ENQUEUE)
        wait_until(
            lambda: "Subject: Delivered by the running worker" in log.read_text(),
            proc,
            log,
            "delivery",
        )
    finally:
        status = stop(proc, signal.SIGTERM)
    assert status == 0, log.read_text()
    assert "stopped" in log.read_text()
