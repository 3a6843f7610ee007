from django.db import models


class Role(models.TextChoices):
    REQUESTER = "requester", "Requester"
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Support manager"
    DEVELOPER = "developer", "Developer"
    ADMIN = "admin", "Administrator"


class OrganizationKind(models.TextChoices):
    NETWORK = "network", "Network"
    AGENCY = "agency", "Agency"
    CHURCH = "church", "Church"
    COMMUNITY_CHAMPION = "community_champion", "Community champion"
