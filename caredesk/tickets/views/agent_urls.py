from django.urls import path

from . import agent

urlpatterns = [
    path("", agent.queue, name="queue"),
]
