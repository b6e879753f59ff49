"""What other plugins may use of the campaigns area (with ``campaigns`` in their
Plugin.depends): record a touch, make a tracked link's URL, record a conversion, read the
ROI figures and a mass e-mail's figures, and check an unsubscribed address before writing
to it.

Events emitted: ``campaigns.touch_recorded``: ``{touch_id, campaign_id, kind, lead_id,
partner_id}`` (the lead's score is brought up to date on it).

Events consumed: ``leads.lead_converted`` (a response), ``orders.order_placed`` (its
``campaign_token``, a tracked link's token, becomes a click touch on the buyer),
``orders.order_confirmed`` (its ``amount`` is revenue of ``partner_id``) and
``orders.order_cancelled`` (takes it back).
Any plugin bringing revenue may emit ``orders.order_confirmed``-shaped events under its own
name and call :func:`record_conversion` from its subscriber instead."""

from __future__ import annotations

from .attribution import attribute, record_conversion, touches_before, withdraw_conversion
from .links import check_destination, link_token, link_url
from .mailing import is_unsubscribed, start_mailing, unsubscribe
from .models import Campaign, Conversion, CostLine, Credit, OptOut, Segment, Touch, TrackedLink
from .responses import MailFigures, mail_figures
from .roi import Roi, roi_by_campaign, roi_by_channel
from .segments import Recipient, SegmentError, check_criteria, recipients
from .settings import CampaignsSettings, settings_of
from .touches import TouchError, record_touch, touch_count, touches_before_response

__all__ = [
    "Campaign",
    "CampaignsSettings",
    "Conversion",
    "CostLine",
    "Credit",
    "MailFigures",
    "OptOut",
    "Recipient",
    "Roi",
    "Segment",
    "SegmentError",
    "Touch",
    "TouchError",
    "TrackedLink",
    "attribute",
    "check_criteria",
    "check_destination",
    "is_unsubscribed",
    "link_token",
    "link_url",
    "mail_figures",
    "recipients",
    "record_conversion",
    "record_touch",
    "roi_by_campaign",
    "roi_by_channel",
    "settings_of",
    "start_mailing",
    "touch_count",
    "touches_before",
    "touches_before_response",
    "unsubscribe",
    "withdraw_conversion",
]
