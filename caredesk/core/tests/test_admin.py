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
