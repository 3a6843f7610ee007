from django.contrib import admin
from django.urls import include, path

from caredesk.accounts import views as accounts_views
from caredesk.core import views as core_views
from caredesk.tickets.views import agent_urls, attachments, portal_urls

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/", include(accounts_views.urlpatterns)),
    path("agent/", include((agent_urls.urlpatterns, "agent"))),
    path("portal/", include((portal_urls.urlpatterns, "portal"))),
    path("attachments/<int:pk>/", attachments.download, name="attachment"),
    path("admin/", admin.site.urls),
]
