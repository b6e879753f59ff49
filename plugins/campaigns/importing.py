"""Ad impressions from the ad network's CSV or XLSX export, through the kernel's import
framework (a dry run, all or nothing, a report naming each bad row): one touch per row,
on the lead or the customer with that e-mail address, for the campaign named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.api import Importer, ImportField, ImportRow, Partner, Refused, Written, import_parsers
from accord.plugins.leads.api import Lead

from .models import Campaign
from .security import MANAGE
from .touches import record_touch


def find_person(session: Session, email: str) -> tuple[int | None, int | None]:
    """The newest open lead and the first active customer with ``email``."""
    address = email.strip().lower()
    lead_id = session.scalar(
        select(Lead.id)
        .where(func.lower(Lead.email) == address, Lead.state != "merged")
        .order_by(Lead.id.desc())
        .limit(1)
    )
    partner_id = session.scalar(
        select(Partner.id)
        .where(func.lower(Partner.email) == address, Partner.active.is_(True))
        .order_by(Partner.id)
        .limit(1)
    )
    return lead_id, partner_id


def write_impressions(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    done: list[Written | Refused] = []
    campaigns: dict[str, Campaign | None] = {}
    for row in rows:
        values = row.values
        name = values["campaign"]
        if name not in campaigns:
            campaigns[name] = session.scalar(
                select(Campaign).where(Campaign.name == name).order_by(Campaign.id).limit(1)
            )
        campaign = campaigns[name]
        if campaign is None:
            done.append(Refused(f"no campaign named {name!r}", "campaign"))
            continue
        lead_id, partner_id = find_person(session, values["email"])
        if lead_id is None and partner_id is None:
            done.append(Refused(f"no lead or customer with e-mail {values['email']!r}", "email"))
            continue
        day: dt.date = values["date"]
        touch = record_touch(
            session,
            campaign,
            "ad_impression",
            lead_id=lead_id,
            partner_id=partner_id,
            email=values["email"],
            utm={
                "utm_source": values.get("source") or "",
                "utm_content": values.get("ad") or "",
            },
            detail=values.get("ad") or "",
            occurred_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        )
        done.append(Written("created", touch.id))
    return done


IMPRESSION_IMPORTER = Importer(
    "campaigns.ad_impressions",
    title="Ad impressions",
    model="campaigns_touch",
    fields=(
        ImportField("campaign", "Campaign", required=True, parse=import_parsers.text(200)),
        ImportField(
            "email",
            "E-mail",
            required=True,
            parse=import_parsers.email,
            aliases=("e-mail", "email address", "user email"),
        ),
        ImportField(
            "date",
            "Date",
            required=True,
            parse=import_parsers.date,
            aliases=("day", "impression date"),
        ),
        ImportField(
            "source", "Network", parse=import_parsers.text(100), aliases=("utm_source", "network")
        ),
        ImportField(
            "ad", "Ad", parse=import_parsers.text(100), aliases=("creative", "utm_content")
        ),
    ),
    write=write_impressions,
    permission=MANAGE,
    summary="The ad network's export: one impression per row, on the lead or customer with "
    "that e-mail address, for the campaign named",
)
