"""GET /widget/form/: the page inside the iframe, frameable by the configured sites only."""

from caredesk.widget.tokens import check_form_token

from .conftest import HOST, form_token_from


def test_it_may_be_framed_by_the_configured_origins_only(client):
    response = client.get("/widget/form/")

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {HOST} https://*.partner.example;" in csp
    assert "X-Frame-Options" not in response
    # The rest of the site's policy still holds inside the frame.
    assert "script-src 'self' 'nonce-" in csp and "object-src 'none'" in csp
    assert "img-src 'self' data: blob:" in csp  # thumbnails of pasted screenshots


def test_by_default_only_caredesk_itself_may_frame_it(client, settings):
    settings.CAREDESK_WIDGET_ALLOWED_ORIGINS = []

    csp = client.get("/widget/form/")["Content-Security-Policy"]

    assert "frame-ancestors 'self';" in csp


def test_other_pages_stay_unframeable(client):
    response = client.get("/accounts/login/")

    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_it_is_never_cached_and_carries_a_form_token_with_the_host_origin(client):
    response = client.get("/widget/form/", HTTP_REFERER=f"{HOST}/some/page?x=1")

    assert "no-store" in response["Cache-Control"]
    assert check_form_token(form_token_from(response.content.decode())) == {"o": HOST}


def test_every_field_has_a_label_and_the_honeypot_is_hidden_from_people(client):
    html = client.get("/widget/form/").content.decode()

    for name in (
        "email",
        "name",
        "subject",
        "trying_to_do",
        "expected",
        "actual",
        "references",
        "screenshots",
    ):
        assert f'<label for="id_{name}">' in html
    assert "What were you trying to do?" in html
    assert "What did you expect to happen?" in html
    assert "What actually happened?" in html
    assert "Email addresses, Request IDs, links." in html
    assert 'type="file" name="screenshots" multiple accept="image/' in html
    assert '<div class="hp" aria-hidden="true">' in html
    honeypot = 'name="leave_empty" id="id_leave_empty" value="" tabindex="-1" autocomplete="off"'
    assert honeypot in html


def test_identity_says_whether_a_user_token_is_good(client):
    from caredesk.widget.tokens import sign_user_token

    good = client.post(
        "/widget/identity/",
        {"user_token": sign_user_token("alice@acme.test", "Alice")},
    )
    bad = client.post("/widget/identity/", {"user_token": "nope.nope"})

    assert good.json() == {"ok": True, "display": "Alice (alice@acme.test)"}
    assert bad.json() == {"ok": False}
    assert client.get("/widget/identity/").status_code == 405
