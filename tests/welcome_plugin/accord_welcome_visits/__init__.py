"""Visits after the welcome call: a small add-on that depends on the welcome add-on, so its
demo data (a visit booked after each welcome call) needs the welcome add-on's first."""

from accord.api import Plugin

plugin = Plugin(
    name="welcome_visits",
    version="1.0.0",
    summary="A visit booked after each welcome call",
    package=__name__,
    depends=("welcome",),
)
