from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, models, transaction
from django.utils import timezone


class Lease(models.Model):
    """A named, expiring lock held by one worker (claim by conditional update: works the
    same on SQLite and PostgreSQL, and a crashed holder's lease simply runs out)."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at:%H:%M:%S}"

    @classmethod
    def acquire(cls, name: str, holder: str, ttl: timedelta) -> bool:
        now = timezone.now()
        taken = (
            cls.objects.filter(name=name)
            .filter(models.Q(expires_at__lt=now) | models.Q(holder=holder))
            .update(holder=holder, expires_at=now + ttl)
        )
        if taken:
            return True
        try:
            with transaction.atomic():
                cls.objects.create(name=name, holder=holder, expires_at=now + ttl)
        except IntegrityError:
            return False  # someone else holds it
        return True

    @classmethod
    def release(cls, name: str, holder: str) -> None:
        cls.objects.filter(name=name, holder=holder).delete()
