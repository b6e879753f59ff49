"""Collections: receivables, credit lines and dunning. It blocks the confirmation of an
order whose customer is over its credit line or long overdue, without the orders plugin
knowing anything about credit."""

from accord.api import Plugin

plugin = Plugin(
    name="collections",
    version="1.0.0",
    summary="Receivables, payments, aging and DSO, credit lines with an order block, dunning",
    package=__name__,
    depends=("orders>=1.0",),
)
