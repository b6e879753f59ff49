"""What other plugins may use of the orders area (import it only with ``orders`` in your
Plugin.depends).

Models: :class:`Order` (``partner_id``, ``number``, ``state``, ``currency``, ``amount`` and
``cost`` as ``Decimal``, ``ordered_on``, ``owner_id``, ``source``, ``campaign_token``),
:class:`OrderLine`, :class:`Product`, :class:`Offer`, :class:`OfferLine`,
:class:`OfferApproval`, :class:`Shipment`, :class:`DeliveredUnit`.

Workflows (names kept stable; veto a step with ``accord_before_transition``):

- ``orders.offer``: draft → submitted → approved → sent → accepted → ordered, or
  rejected / expired; steps ``submit``, ``approve``, ``revise``, ``send``, ``accept``,
  ``reject`` (input ``reason``), ``expire``, ``order``.
- ``orders.offer_approval``: pending → granted / refused / withdrawn; steps ``grant``,
  ``refuse`` (input ``reason``), ``withdraw``.
- ``orders.order``: draft → confirmed → partially_shipped → shipped → delivered →
  invoiced, or cancelled; steps ``confirm``, ``ship_partially``, ``ship``, ``deliver``,
  ``invoice``, ``cancel`` (input ``reason``). A collections plugin vetoes ``confirm``
  for a customer over its credit line.

Events (``accord.api`` outbox; subscribe with ``accord_event_subscribers``). Amounts are
strings of decimals, dates ISO 8601:

- ``orders.order_placed``: an order was created (from an offer, directly, or by the web
  store): ``{order_id, number, partner_id, source, amount, currency, ordered_on,
  campaign_token}``; ``campaign_token`` is the buyer's tracked-link token or ``None``.
- ``orders.order_confirmed``: ``{order_id, number, partner_id, owner_id, amount,
  currency}``.
- ``orders.shipment_sent``: ``{order_id, number, partner_id, shipment_id,
  tracking_number, carrier, complete}``.
- ``orders.order_delivered``, ``orders.order_invoiced``: as ``order_confirmed``.
- ``orders.order_cancelled``: as ``order_confirmed`` plus ``reason``.
- The workflow engine's own events, ``orders.order.confirm`` and the like, with
  ``{model, id, from, to, actor, inputs}``.

Hook: ``orders_availability(session, product, quantity)`` (see ``hookspecs.py``) lets an
ERP connector answer availability instead of the stock figure kept in Accord.
"""

from __future__ import annotations

from .hookspecs import Availability
from .models import (
    ApprovalKind,
    CustomerTerms,
    DeliveredUnit,
    Offer,
    OfferApproval,
    OfferLine,
    Order,
    OrderLine,
    OrderSource,
    PriceList,
    PriceListItem,
    Product,
    Shipment,
    ShipmentLine,
    UnitTracking,
)
from .offers import LineInput, OfferError, Route, create_offer, decide, revise, route_offer, submit
from .ordering import (
    OrderError,
    ShipmentInput,
    UnitInput,
    check_availability,
    confirm,
    create_order,
    order_from_offer,
    ship,
)
from .pricing import order_amount, price_for
from .workflows import APPROVAL, OFFER, ORDER, SOLD_ORDER_STATES

ORDER_WORKFLOW = ORDER
OFFER_WORKFLOW = OFFER
APPROVAL_WORKFLOW = APPROVAL

__all__ = [
    "APPROVAL_WORKFLOW",
    "OFFER_WORKFLOW",
    "ORDER_WORKFLOW",
    "SOLD_ORDER_STATES",
    "ApprovalKind",
    "Availability",
    "CustomerTerms",
    "DeliveredUnit",
    "LineInput",
    "Offer",
    "OfferApproval",
    "OfferError",
    "OfferLine",
    "Order",
    "OrderError",
    "OrderLine",
    "OrderSource",
    "PriceList",
    "PriceListItem",
    "Product",
    "Route",
    "Shipment",
    "ShipmentInput",
    "ShipmentLine",
    "UnitInput",
    "UnitTracking",
    "check_availability",
    "confirm",
    "create_offer",
    "create_order",
    "decide",
    "order_amount",
    "order_from_offer",
    "price_for",
    "revise",
    "route_offer",
    "ship",
    "submit",
]
