"""Campaigns: what marketing spends, every impression that reaches a lead or a customer,
tracked links and mass e-mail, and the revenue each campaign and channel brings back."""

from accord.api import Plugin

plugin = Plugin(
    name="campaigns",
    version="1.0.0",
    summary="Campaigns, touches, tracked links, mass e-mail, attribution and ROI",
    package=__name__,
    depends=("leads>=1.0",),
)
