"""``caredesk demo``: idempotent demo data — one organization of each kind, one user per
role, and a few dozen tickets in every status, made through the real lifecycle rules."""

from __future__ import annotations

import random

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from caredesk.accounts.choices import OrganizationKind, Role
from caredesk.accounts.models import Organization, User
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Category, Channel, Priority, Status
from caredesk.tickets.models import Ticket

DEMO_DOMAIN = "demo.caredesk.test"
DEMO_PASSWORD = "demo"  # noqa: S105 (the demo's documented password)
DEMO_MARK = "[demo]"

ORGANIZATIONS = [
    ("Northside Food Network", OrganizationKind.NETWORK),
    ("Harbour Housing Agency", OrganizationKind.AGENCY),
    ("St Mark's Church", OrganizationKind.CHURCH),
    ("Riverside Community Champions", OrganizationKind.COMMUNITY_CHAMPION),
]

# (email local part, role, organization index or None, display name)
PEOPLE = [
    ("requester", Role.REQUESTER, 0, "Rita Requester"),
    ("requester2", Role.REQUESTER, 2, "Ravi Requester"),
    ("leader", Role.REQUESTER, 1, "Lena Leader"),
    ("champion", Role.REQUESTER, 3, "Cam Champion"),
    ("enduser", Role.REQUESTER, None, "Eli Enduser"),
    ("agent", Role.AGENT, None, "Ada Agent"),
    ("agent2", Role.AGENT, None, "Abe Agent"),
    ("manager", Role.MANAGER, None, "Mia Manager"),
    ("developer", Role.DEVELOPER, None, "Dev Developer"),
    ("admin", Role.ADMIN, None, "Alex Admin"),
]

PROBLEMS = [
    (
        "Cannot add a volunteer to my agency",
        "Add a new volunteer",
        "They appear in the list",
        "A red error box says 'Something went wrong'",
        "Request ID 9c1e-22ab",
    ),
    (
        "Password reset email never arrives",
        "Reset my password",
        "An email within minutes",
        "Nothing, even in spam",
        "rita@northside.example",
    ),
    (
        "Map shows the wrong food bank location",
        "Find the nearest food bank",
        "The pin on Harbour Street",
        "The pin is in the sea",
        "https://platform.example/map?id=88",
    ),
    (
        "How do I export our donations report?",
        "Download last month's donations",
        "A CSV file",
        "I cannot find the button",
        "",
    ),
    (
        "Please add dark mode to the app",
        "Use the app in the evening",
        "A dark theme",
        "Only a bright theme",
        "",
    ),
    (
        "Event sign-ups are duplicated",
        "Sign up for Saturday's shift",
        "One sign-up",
        "Three identical sign-ups",
        "Request IDs 51f0, 51f1, 51f2",
    ),
    (
        "Mobile app crashes when uploading a photo",
        "Attach a photo to a report",
        "The photo uploads",
        "The app closes",
        "iPhone 15, app 4.2.1",
    ),
    (
        "Can church groups share one login?",
        "Let our volunteers share access",
        "Guidance on accounts",
        "Not sure what is allowed",
        "",
    ),
]

# How many demo tickets end in each status.
PER_STATUS = {
    Status.NEW: 15,
    Status.OPEN: 12,
    Status.PENDING: 10,
    Status.ON_HOLD: 10,
    Status.SOLVED: 12,
    Status.CLOSED: 8,
}


class Command(BaseCommand):
    help = "Load demo data (idempotent). Refused when DEBUG is off unless --force."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Load even with DEBUG off.")

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with DEBUG off (this looks like production). "
                "Use --force if you really mean it."
            )
        with transaction.atomic():
            people = self._people()
            created = self._tickets(people)
        self.stdout.write(
            f"Demo ready: {len(people)} users (password '{DEMO_PASSWORD}'), {created} new tickets."
        )

    def _people(self) -> dict[str, User]:
        orgs = []
        for name, kind in ORGANIZATIONS:
            org, _ = Organization.objects.get_or_create(name=name, defaults={"kind": kind})
            orgs.append(org)
        people = {}
        for local, role, org_index, name in PEOPLE:
            email = f"{local}@{DEMO_DOMAIN}"
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email,
                    DEMO_PASSWORD,
                    role=role,
                    name=name,
                    organization=orgs[org_index] if org_index is not None else None,
                    is_staff=role in (Role.MANAGER, Role.ADMIN),
                    is_superuser=role == Role.ADMIN,
                )
            people[local] = user
        return people

    def _tickets(self, people: dict[str, User]) -> int:
        if Ticket.objects.filter(subject__startswith=DEMO_MARK).exists():
            return 0
        rng = random.Random(2026)  # same demo every time
        requesters = [
            people[k] for k in ("requester", "requester2", "leader", "champion", "enduser")
        ]
        agents = [people["agent"], people["agent2"]]
        channels = [Channel.EMAIL, Channel.MOBILE, Channel.WIDGET, Channel.PORTAL]
        created = 0
        for status, count in PER_STATUS.items():
            for i in range(count):
                subject, trying, expected, actual, refs = PROBLEMS[(created + i) % len(PROBLEMS)]
                requester = requesters[(created + i) % len(requesters)]
                ticket = lifecycle.create_ticket(
                    requester=requester,
                    subject=f"{DEMO_MARK} {subject}",
                    channel=rng.choice(channels),
                    fields=lifecycle.GuidedFields(trying, expected, actual, refs),
                    acknowledge=False,  # demo data: no "we received it" mail per ticket
                )
                self._advance(ticket, status, rng.choice(agents), rng)
            created += count
        return created

    def _advance(self, ticket: Ticket, status: str, agent: User, rng: random.Random) -> None:
        """Walk the ticket to ``status`` through the same rules agents use."""
        if status == Status.NEW:
            return
        lifecycle.claim(ticket, agent)
        category = rng.choice([Category.QUESTION, Category.FEEDBACK, Category.BUG])
        if status == Status.ON_HOLD:
            category = Category.BUG
        lifecycle.categorize(ticket, category, by=agent)
        if category == Category.BUG:
            lifecycle.set_priority(ticket, rng.choice([Priority.NORMAL, Priority.HIGH]), by=agent)
        if status == Status.OPEN:
            lifecycle.agent_reply(
                ticket, agent, "Thanks for the details, I'm looking into it.", internal=True
            )
            return
        if status == Status.PENDING:
            lifecycle.agent_reply(
                ticket,
                agent,
                "Could you send a screenshot and the Request ID shown on the error page?",
                status=Status.PENDING,
            )
            return
        if status == Status.ON_HOLD:
            lifecycle.agent_reply(
                ticket,
                agent,
                "I could reproduce this and passed it to our developers. "
                "We'll update you when the fix is live.",
                status=Status.ON_HOLD,
            )
            return
        lifecycle.agent_reply(
            ticket, agent, "This is fixed now — thanks for reporting it!", status=Status.SOLVED
        )
        if status == Status.CLOSED:
            lifecycle.change_status(ticket, Status.CLOSED, by=agent)
