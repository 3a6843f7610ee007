"""The agent workspace, mounted at /agent/ under the "agent" namespace.

The queue page's GET parameters (queue, category, channel, org_kind, q, after) are a
public contract: bookmarks and the benchmark depend on them.
"""

from django.urls import path

from . import agent

urlpatterns = [
    path("", agent.queue, name="queue"),
    path("tickets/<int:number>/", agent.ticket_detail, name="ticket"),
    path("tickets/<int:number>/claim/", agent.claim, name="claim"),
    path("tickets/<int:number>/category/", agent.categorize, name="categorize"),
    path("tickets/<int:number>/priority/", agent.set_priority, name="priority"),
    path("tickets/<int:number>/status/", agent.change_status, name="status"),
    path("tickets/<int:number>/reply/", agent.reply, name="reply"),
    path("tickets/<int:number>/assign/", agent.assign, name="assign"),
    path("tickets/<int:number>/presence/", agent.heartbeat, name="presence"),
]
