from functools import cache

from django.http import HttpRequest

from .choices import State
from .models import InboundMessage


def quarantine(request: HttpRequest) -> dict:
    """How many received messages wait in quarantine, for the managers' mail ledger link.
    A callable: the template calls it only where it shows the link (for managers), so
    other pages and people run no query; for them it is None. Counted once a request,
    however many places show it (the navigation, the ledger page)."""

    @cache
    def quarantined_mail() -> int | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_manager:
            return None
        return InboundMessage.objects.filter(state=State.QUARANTINED).count()  # (state, id)

    return {"quarantined_mail": quarantined_mail}
