"""The widget's settings are checked at startup."""

from caredesk.widget.checks import check_widget_settings


def _ids() -> list[str]:
    return [message.id for message in check_widget_settings()]


def test_the_defaults_pass(settings):
    settings.CAREDESK_WIDGET_ALLOWED_ORIGINS = []
    settings.CAREDESK_WIDGET_SECRET = ""

    assert _ids() == []


def test_it_reports_each_bad_setting(settings):
    settings.CAREDESK_WIDGET_ALLOWED_ORIGINS = [
        "https://ok.example.org",
        "https://*.ok.example.org:8443",
        "https://app.example.org/",
        "app.example.org",
        "https://app.example.org; script-src *",
    ]
    settings.CAREDESK_WIDGET_COLOR = "blue"
    settings.CAREDESK_WIDGET_POSITION = "top"
    settings.CAREDESK_WIDGET_TEXT = "x" * 41
    settings.CAREDESK_WIDGET_SECRET = "short"

    assert _ids() == [
        "widget.E001",
        "widget.E001",
        "widget.E001",
        "widget.E002",
        "widget.E003",
        "widget.E004",
        "widget.W001",
    ]


def test_a_malformed_origin_never_reaches_the_header(client, settings):
    settings.CAREDESK_WIDGET_ALLOWED_ORIGINS = ["https://a.test; script-src *", "https://b.test"]

    csp = client.get("/widget/form/")["Content-Security-Policy"]

    assert "frame-ancestors 'self' https://b.test;" in csp
    assert "script-src *" not in csp
