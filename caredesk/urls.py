from django.contrib import admin
from django.urls import include, path

from caredesk.accounts import views as accounts_views
from caredesk.core import views as core_views
from caredesk.tickets.views import agent_urls, attachments, portal_urls

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon),
    path("accounts/", include(accounts_views.urlpatterns)),
    path("agent/mail/", include("caredesk.mail.ledger_urls")),
    path("mail/", include("caredesk.mail.urls")),
    path("agent/", include((agent_urls.urlpatterns, "agent"))),
    path("portal/", include((portal_urls.urlpatterns, "portal"))),
    path("attachments/<int:pk>/", attachments.download, name="attachment"),
    path("api/v1/", include("caredesk.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("caredesk.widget.urls")),  # /widget.js and /widget/...
]
