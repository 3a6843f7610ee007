from django.db import models


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"  # waiting on the requester
    ON_HOLD = "on_hold", "On-hold"  # waiting on the developers
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)


class Category(models.TextChoices):
    UNCATEGORIZED = "uncategorized", "Uncategorized"
    QUESTION = "question", "Question"
    FEEDBACK = "feedback", "Feedback"
    BUG = "bug", "Bug"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    MOBILE = "mobile", "Mobile app"
    WIDGET = "widget", "Support widget"
    PORTAL = "portal", "Requester portal"
    API = "api", "API"
    AGENT = "agent", "Agent (on behalf)"


class MessageKind(models.TextChoices):
    REPLY = "reply", "Reply"
    NOTE = "note", "Internal note"
    AUTO_REPLY = "auto_reply", "Automatic reply"  # e.g. out-of-office, recorded only
    BOUNCE = "bounce", "Delivery failure"  # a bounce of mail caredesk sent
    UNVERIFIED = "unverified", "Unverified mail"  # from an agent's address, not proven theirs


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    CLAIMED = "claimed", "Claimed"
    ASSIGNED = "assigned", "Assigned"
    CATEGORIZED = "categorized", "Categorized"
    PRIORITY = "priority", "Priority changed"
    STATUS = "status", "Status changed"
    REPLIED = "replied", "Public reply"
    NOTED = "noted", "Internal note"
    FOLLOW_UP = "follow_up", "Follow-up ticket created"
    RECORDED = "recorded", "Automatic mail recorded"
    COPIED = "copied", "Person copied"


class Activity(models.TextChoices):
    VIEWING = "viewing", "viewing"
    REPLYING = "replying", "replying"
