"""caredesk settings: everything comes from environment variables with safe defaults.

SQLite under ./var is the embedded default so a checkout just works; set DATABASE_URL
(e.g. postgres://user:pass@host/db) for PostgreSQL, the production database.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from caredesk.lib.env import envbool, envint, envlist, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(envstr("CAREDESK_VAR_DIR", str(BASE_DIR.parent / "var")))

DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    key = envsecret("SECRET_KEY")
    if key:
        return key
    # No key configured: keep a random one under var/ so sessions survive restarts,
    # instead of shipping a well-known default.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = envstr("SITE_NAME", "caredesk")
DEMO_MODE = envbool("CAREDESK_DEMO", False)

INSTALLED_APPS = [
    "caredesk.core.admin.CaredeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "anymail",
    "caredesk.core",
    "caredesk.accounts",
    "caredesk.tickets",
    "caredesk.outbox",
    "caredesk.mail",
    "caredesk.widget",
    "ninja",  # only for its bundled Swagger UI assets (static files), served from our origin
    "caredesk.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "caredesk.core.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "caredesk.urls"
WSGI_APPLICATION = "caredesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "caredesk.core.context_processors.site",
                "caredesk.mail.context_processors.quarantine",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'caredesk.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while one of them writes;
    # IMMEDIATE transactions make writers queue instead of failing with "database is locked".
    # synchronous=FULL: a commit is on disk before it returns (one fdatasync of the log,
    # ~0.1 ms here), so a 201, or a message moved from the spool, survives a power cut too.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
            "PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536; "
            # Checkpoints are a thread's job (core/checkpoints.py); this is the safety net,
            # and a log grown past 64 MB is cut back when it is next reset.
            "PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864;"
        ),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = None if not DEBUG else 0
    DATABASES["default"].pop("CONN_HEALTH_CHECKS", None)
    DATABASES["default"]["TEST"] = {"NAME": envstr("CAREDESK_TEST_SQLITE", "") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "caredesk.accounts.backends.RoleBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = envlist(
    "PASSWORD_HASHERS",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher,"
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# A shared cache in the database, so rate limits hold across server processes.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "caredesk_cache",
    }
}

TASKS = {
    "default": {
        "BACKEND": envstr("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

LANGUAGE_CODE = "en"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "/media/"  # never served directly: attachments go through a permission check
MEDIA_ROOT = VAR_DIR / "media"

# Uploads
ATTACHMENT_MAX_BYTES = envint("CAREDESK_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
ATTACHMENTS_PER_MESSAGE = envint("CAREDESK_ATTACHMENTS_PER_MESSAGE", 10)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Login rate limit: attempts per window per (email) and per client address.
LOGIN_RATE_LIMIT = envint("CAREDESK_LOGIN_RATE_LIMIT", 10)
LOGIN_RATE_WINDOW = envint("CAREDESK_LOGIN_RATE_WINDOW", 300)
# Password reset requests per address (and five times as many per client address).
PASSWORD_RESET_RATE_LIMIT = envint("CAREDESK_PASSWORD_RESET_RATE_LIMIT", 3)
PASSWORD_RESET_RATE_WINDOW = envint("CAREDESK_PASSWORD_RESET_RATE_WINDOW", 3600)

# REST API (/api/v1/, caredesk/api/). Requests per API_RATE_WINDOW seconds, counted per
# token (or signed-in user) and per client address; over the limit the answer is 429 with
# Retry-After. Generous: a mobile app makes a few requests a minute, and many users can
# share one address behind a carrier's NAT.
API_RATE_LIMIT_PER_TOKEN = envint("CAREDESK_API_RATE_LIMIT_PER_TOKEN", 600)
API_RATE_LIMIT_PER_IP = envint("CAREDESK_API_RATE_LIMIT_PER_IP", 6000)
API_RATE_WINDOW = envint("CAREDESK_API_RATE_WINDOW", 60)
API_JSON_MAX_BYTES = envint("CAREDESK_API_JSON_MAX_BYTES", 1024 * 1024)
# A retry with the same Idempotency-Key within this many seconds replays the first answer.
API_IDEMPOTENCY_TTL = envint("CAREDESK_API_IDEMPOTENCY_TTL", 24 * 3600)

# Email channel
CAREDESK_SUPPORT_ADDRESSES = envlist("CAREDESK_SUPPORT_ADDRESSES", "support@demo.caredesk.test")
MAIL_MAX_BYTES = envint("CAREDESK_MAIL_MAX_BYTES", 25 * 1024 * 1024)
# The name (authserv-id) the receiving mail server writes in Authentication-Results:
# only its findings are trusted (mail/authentication.py). Empty: no sender is proven.
MAIL_AUTHSERV_ID = envstr("CAREDESK_MAIL_AUTHSERV_ID", "")
# SQLite only: the intake's own database file, beside the main one (caredesk/mail/spool.py
# says why). On PostgreSQL, and when set to "", the intake writes the ledger directly.
MAIL_SPOOL = envstr(
    "CAREDESK_MAIL_SPOOL",
    f"{DATABASES['default']['NAME']}-spool"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    else "",
)
SMTPD_HOST = envstr("CAREDESK_SMTPD_HOST", "127.0.0.1")
SMTPD_PORT = envint("CAREDESK_SMTPD_PORT", 2525)
# Automatic mails (acknowledgements) to one address per hour, at most: a loop brake.
AUTO_REPLY_LIMIT_PER_HOUR = envint("CAREDESK_AUTO_REPLY_LIMIT_PER_HOUR", 5)
# Inbound provider webhooks (django-anymail), see caredesk/mail/webhooks.py. Mailgun signs
# each post with the domain's webhook signing key; WEBHOOK_SECRET ("user:password") adds
# HTTP basic auth that the provider must send too (put it in the route's URL).
ANYMAIL = {
    key: value
    for key, value in {
        "MAILGUN_WEBHOOK_SIGNING_KEY": envsecret("MAILGUN_WEBHOOK_SIGNING_KEY"),
        "WEBHOOK_SECRET": envsecret("ANYMAIL_WEBHOOK_SECRET"),
    }.items()
    if value  # unset stays unset: an empty signing key would accept forged posts
}


# Email (outbound goes through the outbox, delivered by the worker). SMTP by default; or
# a provider's HTTP API through django-anymail, with EMAIL_BACKEND set to
# anymail.backends.mailgun.EmailBackend (or anymail.backends.postmark.EmailBackend) and
# that provider's variables. They become the backend's OPTIONS, not ANYMAIL settings:
# anymail's Mailgun inbound webhook would take MAILGUN_API_KEY as its signing key while
# MAILGUN_WEBHOOK_SIGNING_KEY is unset.
# (Amazon SES would need boto3, which caredesk does not install.)
def _anymail_options(backend: str) -> dict[str, str]:
    """OPTIONS for EMAIL_BACKEND when it is an anymail backend, from its provider's variables.
    Unset ones are left out: anymail then uses its default, or names the missing one in
    the error that fails the send (shown on the ticket)."""
    variables = {
        # module in anymail.backends: {backend option: (variable, reader)}
        "mailgun": {
            "api_key": ("MAILGUN_API_KEY", envsecret),
            "sender_domain": ("MAILGUN_SENDER_DOMAIN", envstr),  # default: the From domain
            "api_url": ("MAILGUN_API_URL", envstr),  # EU: https://api.eu.mailgun.net/v3
        },
        "postmark": {
            "server_token": ("POSTMARK_SERVER_TOKEN", envsecret),
        },
    }
    if not backend.startswith("anymail.backends."):
        return {}
    provider = backend.removeprefix("anymail.backends.").partition(".")[0]
    options = {option: read(name) for option, (name, read) in variables.get(provider, {}).items()}
    return {option: value for option, value in options.items() if value}


_email_backend = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
MAILERS = {
    "default": {
        "BACKEND": _email_backend,
        "OPTIONS": {
            "host": envstr("EMAIL_HOST", "localhost"),
            "port": envint("EMAIL_PORT", 25),
            "username": envstr("EMAIL_HOST_USER"),
            "password": envsecret("EMAIL_HOST_PASSWORD"),
            "use_tls": envbool("EMAIL_USE_TLS", False),
            "use_ssl": envbool("EMAIL_USE_SSL", False),
            "timeout": envint("EMAIL_TIMEOUT", 30),
        },
    }
}
if not _email_backend.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = _anymail_options(_email_backend)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <{CAREDESK_SUPPORT_ADDRESSES[0]}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Support widget (caredesk/widget, docs/widget.md). Sites that may frame the form, as
# origins (https://app.example.org; "https://*.example.org" for subdomains); none but
# caredesk itself by default. The secret signs host apps' user tokens (HMAC-SHA256).
CAREDESK_WIDGET_ALLOWED_ORIGINS = envlist("CAREDESK_WIDGET_ALLOWED_ORIGINS")
CAREDESK_WIDGET_SECRET = envsecret("CAREDESK_WIDGET_SECRET")
CAREDESK_WIDGET_TOKEN_MAX_AGE = envint("CAREDESK_WIDGET_TOKEN_MAX_AGE", 24 * 3600)
CAREDESK_WIDGET_FORM_MAX_AGE = envint("CAREDESK_WIDGET_FORM_MAX_AGE", 4 * 3600)
# Launcher defaults; a page overrides them with data-color, data-text, data-position.
CAREDESK_WIDGET_COLOR = envstr("CAREDESK_WIDGET_COLOR", "#1f5fbf")
CAREDESK_WIDGET_TEXT = envstr("CAREDESK_WIDGET_TEXT", "Contact support")
CAREDESK_WIDGET_POSITION = envstr("CAREDESK_WIDGET_POSITION", "bottom-right")
# Anonymous submissions per window (seconds), per email address and per client address.
CAREDESK_WIDGET_RATE_LIMIT_EMAIL = envint("CAREDESK_WIDGET_RATE_LIMIT_EMAIL", 5)
CAREDESK_WIDGET_RATE_LIMIT_IP = envint("CAREDESK_WIDGET_RATE_LIMIT_IP", 20)
CAREDESK_WIDGET_RATE_WINDOW = envint("CAREDESK_WIDGET_RATE_WINDOW", 3600)

# Security headers
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", SITE_URL.startswith("https://"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Reverse proxies in front of caredesk (their X-Forwarded-For entries name the client for
# per-address rate limits; see caredesk/core/clients.py). 0: caredesk faces clients.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
# The nearest proxy's addresses or networks (CIDR): X-Forwarded-For is believed only from
# them. Empty: caredesk must be reachable through the proxies only.
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "")
for _network in TRUSTED_PROXIES:  # a typo must stop the start, not the first request
    ipaddress.ip_network(_network, strict=False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", False) else None
)
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.tasks": {"level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
    },
}
