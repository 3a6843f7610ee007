"""People and the organizations they belong to."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from caredesk.lib.rows import Query, insert

from .choices import OrganizationKind, Role


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=OrganizationKind.choices)
    # Set by a manager: members may see each other's tickets (default: own tickets only).
    shared_tickets = models.BooleanField(
        default=False,
        help_text="Members of this organization may see each other's tickets.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def by_email(self, address: str) -> models.QuerySet[User]:
        """Users with this address, in any case: a lookup on the LOWER(email) unique
        index (``email__iexact`` would compile to LIKE / UPPER and read every row)."""
        return self._matching(address, address.lower())

    def _matching(self, address: str, lowered: str) -> models.QuerySet[User]:
        # The address as given and lowered by Python, each lowered again by the database:
        # SQLite's LOWER() folds ASCII only, so new addresses are stored lowered by Python
        # ("émile@…", which LOWER("Émile@…") never meets), while an address stored with
        # capitals before that is met by LOWER() of itself.
        wanted = [Lower(Value(address)), Lower(Value(lowered))]
        return self.alias(email_lower=Lower("email")).filter(email_lower__in=wanted)

    def find(self, address: str) -> User | None:
        """The user with this address (any case), or None: ``by_email`` compiled once,
        since every incoming mail asks it."""
        return _BY_EMAIL.first(address, address.lower())

    def requester(self, email: str, name: str = "") -> User:
        """The person with this address, created if caredesk does not know them yet: a
        requester with an unusable password ("forgot password" lets them into the portal).
        Safe against a parallel request creating the same address: its row is kept, and
        (ON CONFLICT DO NOTHING) nothing here fails or needs a savepoint."""
        user = self.find(email)
        if user is not None:
            return user
        # No password: nothing for save() to announce, so the one-statement insert.
        user = insert(self._new(email, None, name=name.strip()[:200]), ignore_conflicts=True)
        return user if user.pk is not None else self.by_email(email).get()

    def get_by_natural_key(self, username: str) -> User:
        return self.by_email(username).get()

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        user = self._new(email, password, **fields)
        user.save(using=self._db)
        return user

    def _new(self, email: str, password: str | None, **fields) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("role", Role.ADMIN)
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who signs in: requesters, agents, managers, developers and admins.

    Requesters who only ever wrote an email exist too, with an unusable password.
    """

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REQUESTER)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def is_agent(self) -> bool:
        """Support staff: may work tickets (agents, managers and admins)."""
        return self.is_active and self.role in (Role.AGENT, Role.MANAGER, Role.ADMIN)

    @property
    def is_manager(self) -> bool:
        return self.is_active and self.role in (Role.MANAGER, Role.ADMIN)

    @property
    def is_requester(self) -> bool:
        return self.role == Role.REQUESTER


class ApiToken(models.Model):
    """A personal access token for the REST API (``Authorization: Bearer cd_…``).

    The token is ``<prefix>_<secret>``: the prefix (``cd_`` and 8 random characters) is not
    secret, finds the row through a unique index and tells tokens apart in lists; only the
    SHA-256 of the whole token is stored, so the database never holds a usable token. A
    SHA-256 (not a password hash) is right here: the secret is 192 random bits, nothing to
    guess, and checking it must cost microseconds on every request.
    """

    PREFIX = "cd_"
    PREFIX_LENGTH = len(PREFIX) + 8
    SECRET_LENGTH = 32  # characters of URL-safe base64: 24 random bytes
    _PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. a device.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Written at most once a minute per token (see caredesk/api/auth.py).
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def new_prefix(cls) -> str:
        return cls.PREFIX + "".join(secrets.choice(cls._PREFIX_ALPHABET) for _ in range(8))

    @staticmethod
    def new_secret() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def split(cls, token: str) -> tuple[str, str] | None:
        """``(prefix, secret)`` of a well-formed token, else None."""
        n = cls.PREFIX_LENGTH
        if (
            len(token) != n + 1 + cls.SECRET_LENGTH
            or not token.startswith(cls.PREFIX)
            or token[n] != "_"
        ):
            return None
        return token[:n], token[n + 1 :]

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, self.hash(token))


_BY_EMAIL = Query(lambda address, lowered: User.objects._matching(address, lowered)[:1], str, str)
