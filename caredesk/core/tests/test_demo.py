import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from caredesk.accounts.choices import OrganizationKind, Role
from caredesk.accounts.models import Organization, User
from caredesk.tickets.choices import Status
from caredesk.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_it_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("demo")
    assert not Ticket.objects.exists()


def test_it_loads_people_orgs_and_tickets_in_every_status_once(settings):
    settings.DEBUG = True
    call_command("demo")
    count = Ticket.objects.count()
    assert count >= 36
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Organization.objects.values_list("kind", flat=True)) == set(OrganizationKind.values)
    call_command("demo")  # idempotent
    assert Ticket.objects.count() == count
    assert User.objects.filter(email="agent@demo.caredesk.test").count() == 1


@pytest.mark.parametrize(
    ("local", "role"),
    [
        ("requester", Role.REQUESTER),
        ("requester2", Role.REQUESTER),
        ("agent", Role.AGENT),
        ("agent2", Role.AGENT),
        ("manager", Role.MANAGER),
        ("developer", Role.DEVELOPER),
    ],
)
def test_demo_logins(settings, local, role):
    call_command("demo", "--force")
    user = authenticate(username=f"{local}@demo.caredesk.test", password="demo")
    assert user is not None and user.role == role


def test_the_two_requesters_are_in_different_organizations():
    call_command("demo", "--force")
    one = User.objects.get(email="requester@demo.caredesk.test")
    two = User.objects.get(email="requester2@demo.caredesk.test")
    assert one.organization and two.organization and one.organization != two.organization
