"""Products, offers and orders: price lists, offer approvals routed by company policy,
order confirmation with an availability check, the shipping queue, shipments with their
tracking, serial numbers and licence keys, and the web-store intake."""

from accord.api import Plugin

plugin = Plugin(
    name="orders",
    version="1.0.0",
    summary="Products, offers with approvals, orders, shipments and the web-store intake",
    package=__name__,
)
