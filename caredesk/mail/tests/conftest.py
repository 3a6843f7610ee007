"""A private Dovecot IMAP server for the fetchmail tests.

Started once per test session (per xdist worker) from a config written to a temporary
directory: no system service, a passwd-file with numbered accounts (``box01`` ...
``box40``, password ``secret``) and a Maildir per account. Each test takes fresh
accounts with ``imap_account()``, so tests never see each other's mail.

It listens on two free loopback ports: plain IMAP (no STARTTLS needed: plaintext logins
are allowed) and IMAP over implicit TLS, as Gmail and Microsoft 365 serve it on 993. The
TLS certificate is made for the session with ``openssl`` (Dovecot's own dependency): a
throwaway CA (``Dovecot.ca_file``, trusted only by tests that say so, e.g. through
``SSL_CERT_FILE``) and a server certificate for ``DNS:localhost`` only, so connecting
to ``127.0.0.1`` instead is a name mismatch.

Dovecot must be installed (``make test`` installs ``dovecot-imapd``): without it the
tests that need it fail and say so; they are not skipped.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
PASSWORD = "secret"
ACCOUNTS = 40
TLS_HOST = "localhost"  # the only name in the server certificate


@dataclass(frozen=True)
class Dovecot:
    """Where it listens: 127.0.0.1 only. Where ``tls_host`` (localhost) resolves to ::1
    first, that connection is refused at once and the client goes on to 127.0.0.1."""

    host: str  # 127.0.0.1
    port: int  # plain IMAP
    tls_host: str  # TLS_HOST, the certificate's name
    tls_port: int  # IMAP over implicit TLS ("IMAPS")
    ca_file: Path  # the throwaway CA that signed the server certificate


@dataclass
class ImapAccount:
    """A test account; ``client()`` reaches it over plain IMAP (to deliver, to check)."""

    host: str
    port: int
    tls_host: str
    tls_port: int
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


_OPENSSL_CONFIG = f"""
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:{TLS_HOST}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _make_certificates(tls: Path) -> None:
    """ca.pem (and its key), server.pem and server.key, signed by it, for TLS_HOST.

    P-256 keys: generated instantly, unlike RSA. The extensions are those Python 3.13's
    default context insists on (VERIFY_X509_STRICT): a CA with key usage and a subject
    key identifier, a leaf with an authority key identifier. The keys stay private to
    the user running the tests (0600): Dovecot's config process, which runs as that
    user, reads ``ssl_key = <file`` and hands the key to the login processes (dovenull).
    """
    tls.mkdir()
    (tls / "openssl.cnf").write_text(_OPENSSL_CONFIG)

    def openssl(*args: str) -> None:
        done = subprocess.run(  # noqa: S603 (our own argv)
            [OPENSSL, *args], cwd=tls, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"openssl {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    new_key = ("-config", "openssl.cnf", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    openssl("req", "-x509", *new_key, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=caredesk test CA", "-extensions", "ca", "-days", "2")  # fmt: skip
    openssl("req", "-new", *new_key, "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", f"/CN={TLS_HOST}")  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(secrets.randbits(63)), "-out", "server.pem",
            "-extfile", "openssl.cnf", "-extensions", "server", "-days", "2")  # fmt: skip


def _config(root: Path, port: int, tls_port: int) -> str:
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
ssl = yes
ssl_cert = <{root}/tls/server.pem
ssl_key = <{root}/tls/server.key
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
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
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


def _wait_until_listening(process: subprocess.Popen, root: Path, *ports: int) -> None:
    for _ in range(300):  # it starts in well under a second; give up after 30 s
        try:
            for port in ports:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
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
    pytest.fail(f"Dovecot did not start on 127.0.0.1, ports {ports}:\n{logs}")


@pytest.fixture(scope="session")
def dovecot():
    """A running private Dovecot (a ``Dovecot``); stopped at the end of the session."""
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
    _make_certificates(root / "tls")
    port = tls_port = _free_port()
    while tls_port == port:
        tls_port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, tls_port))
    output = (root / "dovecot.out").open("wb")  # a pipe nobody reads could fill up
    process = subprocess.Popen(  # noqa: S603 (our own argv)
        [DOVECOT, "-F", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_listening(process, root, port, tls_port)
        yield Dovecot("127.0.0.1", port, TLS_HOST, tls_port, root / "tls" / "ca.pem")
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

    def take() -> ImapAccount:
        number = next(_numbers)
        if number > ACCOUNTS:
            raise RuntimeError(f"only {ACCOUNTS} test IMAP accounts: raise ACCOUNTS")
        return ImapAccount(
            dovecot.host, dovecot.port, dovecot.tls_host, dovecot.tls_port, f"box{number:02}"
        )

    return take
