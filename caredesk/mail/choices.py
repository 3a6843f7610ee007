from django.db import models


class Transport(models.TextChoices):
    SMTP = "smtp", "SMTP intake"
    IMAP = "imap", "IMAP mailbox"
    WEBHOOK = "webhook", "Provider webhook"


class State(models.TextChoices):
    QUEUED = "queued", "Queued"
    DONE = "done", "Processed"
    QUARANTINED = "quarantined", "Quarantined"


class Outcome(models.TextChoices):
    NEW_TICKET = "new_ticket", "New ticket"
    FOLLOW_UP = "follow_up", "Follow-up on a ticket"
    LINKED_TICKET = "linked_ticket", "New ticket linked to another (sender not a participant)"
    DUPLICATE = "duplicate", "Duplicate (already received)"
    AUTO_REPLY = "auto_reply", "Automatic reply (recorded)"
    BOUNCE = "bounce", "Bounce (delivery failure)"
    OWN_MAIL = "own_mail", "Sent by caredesk itself (loop stopped)"
    UNVERIFIED = "unverified", "From an agent's address, unverified (kept as a note)"
    QUARANTINED = "quarantined", "Quarantined"


class Reason(models.TextChoices):
    """Why a message was threaded onto a ticket, in the order the rules are tried."""

    REPLY_ADDRESS = "reply_address", "signed reply address"
    HEADER = "header", "In-Reply-To / References header"
    SUBJECT_TAG = "subject_tag", "ticket tag in the subject, from a participant"
    NONE = "", "—"
