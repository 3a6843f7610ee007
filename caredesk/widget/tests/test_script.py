"""GET /widget.js: the one-line embed's script."""

import gzip
import json
import re

from django.urls import reverse


def _config(body: bytes) -> dict:
    return json.loads(re.search(rb"var defaults = (\{.*?\});", body).group(1))


def test_it_serves_javascript_with_the_deployment_defaults(client, settings):
    settings.CAREDESK_WIDGET_COLOR = "#aa3300"
    settings.CAREDESK_WIDGET_TEXT = "Need help?"
    settings.CAREDESK_WIDGET_POSITION = "bottom-left"

    response = client.get("/widget.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert _config(response.content) == {
        "color": "#aa3300",
        "formPath": reverse("widget:form"),
        "position": "bottom-left",
        "text": "Need help?",
    }
    assert "public" in response["Cache-Control"] and "max-age=600" in response["Cache-Control"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_it_escapes_the_configured_text_as_json(client, settings):
    settings.CAREDESK_WIDGET_TEXT = '</script><b>"hi"'

    body = client.get("/widget.js").content

    assert _config(body)["text"] == '</script><b>"hi"'


def test_it_is_gzipped_for_browsers_that_accept_it(client):
    plain = client.get("/widget.js").content
    response = client.get("/widget.js", HTTP_ACCEPT_ENCODING="gzip, br")

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content) == plain
    assert len(response.content) < len(plain) / 2


def test_it_answers_not_modified_to_a_revalidation(client):
    etag = client.get("/widget.js")["ETag"]

    response = client.get("/widget.js", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""


def test_a_new_setting_changes_the_etag(client, settings):
    before = client.get("/widget.js")["ETag"]
    settings.CAREDESK_WIDGET_COLOR = "#000"

    assert client.get("/widget.js")["ETag"] != before


def test_it_refuses_other_methods(client):
    assert client.options("/widget.js").status_code == 405
