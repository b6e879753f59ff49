"""A small add-on that welcomes new customers: it sends them a letter (a mail template) and
puts welcome calls into the demo company. The tests of mail and of the demo use it; it is
installed like a partner's package (its own dist-info and entry point)."""

from accord.api import Plugin

plugin = Plugin(
    name="welcome",
    version="1.0.0",
    summary="A welcome letter and a welcome call for every new customer",
    package=__name__,
)
