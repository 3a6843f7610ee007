"""Signals the lifecycle rules send inside their transaction, so that other apps (mail
notifications, webhooks) can add their outbox rows atomically without the tickets app
importing them. Receivers must only write rows: nothing is sent from here."""

from django.dispatch import Signal

# ticket, message, acknowledge (bool: the intake allows an automatic acknowledgement)
ticket_created = Signal()
# ticket, message — a public reply from support that the requester should receive
public_reply_added = Signal()
# ticket, message — any message added to an existing ticket (replies, notes, automatic)
message_added = Signal()
# ticket, from_status, to_status, actor
status_changed = Signal()
