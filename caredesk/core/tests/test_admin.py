from caredesk.conftest import PASSWORD


def test_manager_uses_the_admin_to_share_an_organizations_tickets(client, manager, acme):
    client.login(username=manager.email, password=PASSWORD)
    assert client.get("/admin/").status_code == 200
    page = client.get(f"/admin/accounts/organization/{acme.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/accounts/organization/{acme.pk}/change/",
        {
            "name": acme.name,
            "kind": acme.kind,
            "shared_tickets": "on",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.shared_tickets


def test_tickets_are_read_only_in_the_admin(client, manager, ticket):
    client.login(username=manager.email, password=PASSWORD)
    assert client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").status_code == 200
    client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", {"status": "closed"})
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_agents_and_requesters_are_kept_out(client, agent, alice):
    for user in (agent, alice):
        client.login(username=user.email, password=PASSWORD)
        response = client.get("/admin/accounts/organization/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def _change_user(client, user, **fields):
    data = {"email": user.email, "name": user.name, "role": user.role, "is_active": "on"}
    data.update(fields)
    return client.post(f"/admin/accounts/user/{user.pk}/change/", data)


def test_a_manager_cannot_grant_themselves_privileges(client, manager):
    client.login(username=manager.email, password=PASSWORD)
    response = _change_user(client, manager, role="admin", is_superuser="on", is_staff="on")
    assert response.status_code == 200  # the form again: "admin" is not a choice here
    assert "Select a valid choice" in response.content.decode()
    _change_user(client, manager, name="Mona", is_superuser="on", is_staff="on")
    manager.refresh_from_db()
    assert manager.name == "Mona"  # the rest of the form is theirs to change
    assert (manager.role, manager.is_superuser, manager.is_staff) == ("manager", False, False)


def test_a_manager_runs_the_accounts_below_them(client, manager, agent):
    client.login(username=manager.email, password=PASSWORD)
    assert _change_user(client, agent, role="requester").status_code == 302
    agent.refresh_from_db()
    assert agent.role == "requester"


def test_peers_and_administrators_are_out_of_a_managers_reach(client, manager, django_user_model):
    other = django_user_model.objects.create_user("boss@caredesk.test", "x", role="manager")
    root = django_user_model.objects.create_superuser("root@caredesk.test", "x")
    client.login(username=manager.email, password=PASSWORD)
    for user in (other, root):
        before = user.password
        assert _change_user(client, user, name="Changed").status_code == 403
        page = f"/admin/accounts/user/{user.pk}/password/"
        response = client.post(page, {"password1": "Pwned-123456", "password2": "Pwned-123456"})
        assert response.status_code == 403
        user.refresh_from_db()
        assert user.name != "Changed" and user.password == before
    client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [other.pk, root.pk], "post": "yes"},
    )
    assert django_user_model.objects.filter(pk__in=[other.pk, root.pk]).count() == 2


def test_an_account_a_superuser_gave_privileges_is_out_of_a_managers_reach(client, manager, agent):
    agent.is_staff = True
    agent.save()
    client.login(username=manager.email, password=PASSWORD)
    response = client.post(
        f"/admin/accounts/user/{agent.pk}/password/",
        {"password1": "Pwned-123456", "password2": "Pwned-123456"},
    )
    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.check_password(PASSWORD)
