"""A private Dovecot IMAP server for the fetchmail tests.

Started once per test session (per xdist worker) on a free loopback port, from a config
written to a temporary directory: no system service, no TLS, plaintext logins, a
passwd-file with numbered accounts (``box01`` ... ``box40``, password ``secret``) and a
Maildir per account. Each test takes fresh accounts with ``imap_account()``, so tests
never see each other's mail.

Dovecot must be installed (``make test`` installs ``dovecot-imapd``): without it the
tests that need it fail and say so; they are not skipped.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "secret"
ACCOUNTS = 40


@dataclass
class ImapAccount:
    host: str
    port: int
    username: str
    password: str = PASSWORD

    def client(self, folder: str = "INBOX") -> MailBoxUnencrypted:
        return MailBoxUnencrypted(self.host, self.port, timeout=30).login(
            self.username, self.password, initial_folder=folder
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot refuses to run mail processes as root: they run as nobody, the
        # internal and login processes as Debian's dovecot and dovenull users.
        mail_user, mail_group = "nobody", "nogroup"
        internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
    else:  # an unprivileged user can only run everything as itself
        mail_user = internal_user = login_user = pwd.getpwuid(os.geteuid()).pw_name
        mail_group = internal_group = grp.getgrgid(os.getegid()).gr_name
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # No growing delay after the failed logins that the tests make on purpose.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _wait_until_listening(process: subprocess.Popen, root: Path, port: int) -> None:
    for _ in range(300):  # it starts in well under a second; give up after 30 s
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            try:
                process.wait(0.1)
            except subprocess.TimeoutExpired:
                continue
            break
    process.kill()
    process.wait()
    logs = "\n".join(
        path.read_text(errors="replace")
        for path in (root / "dovecot.out", root / "dovecot.log")
        if path.exists()
    )
    pytest.fail(f"Dovecot did not start on 127.0.0.1:{port}:\n{logs}")


@pytest.fixture(scope="session")
def dovecot():
    """(host, port) of a running private Dovecot; stopped at the end of the session."""
    if not os.access(DOVECOT, os.X_OK):
        pytest.fail(
            "Dovecot is not installed: the fetchmail tests run a private Dovecot IMAP "
            "server. Run `make test` (it installs dovecot-imapd), or "
            "`apt-get install -y dovecot-imapd`."
        )
    # Not pytest's tmp_path: the mail processes run as another user (nobody) and need
    # to traverse this directory, while pytest's base temp directory is private (0700).
    root = Path(tempfile.mkdtemp(prefix="caredesk-dovecot-"))
    root.chmod(0o755)
    (root / "mail").mkdir()
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(root / "mail", nobody.pw_uid, nobody.pw_gid)
    (root / "passwd").write_text(
        "".join(f"box{n:02}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, ACCOUNTS + 1))
    )
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port))
    output = (root / "dovecot.out").open("wb")  # a pipe nobody reads could fill up
    process = subprocess.Popen(  # noqa: S603 (our own argv)
        [DOVECOT, "-F", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_listening(process, root, port)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()
        shutil.rmtree(root, ignore_errors=True)


_numbers = itertools.count(1)


@pytest.fixture
def imap_account(dovecot):
    """imap_account() -> ImapAccount: a fresh, empty account on the private Dovecot."""
    host, port = dovecot

    def take() -> ImapAccount:
        number = next(_numbers)
        if number > ACCOUNTS:
            raise RuntimeError(f"only {ACCOUNTS} test IMAP accounts: raise ACCOUNTS")
        return ImapAccount(host, port, f"box{number:02}")

    return take
