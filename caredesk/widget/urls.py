"""Mounted at the site root by one include: the embed's stable /widget.js and the iframe."""

from django.urls import path

from . import views

app_name = "widget"

urlpatterns = [
    path("widget.js", views.widget_js, name="script"),
    path("widget/form/", views.form, name="form"),
    path("widget/identity/", views.identity, name="identity"),
]
