"""The leads area of the demo company: leads from every channel over the last three months,
worked the way the network works them (telemarketing calls, the back office qualifies,
some are disqualified with their reason), two pairs of duplicates waiting to be merged,
conversions into new customers, and a pipeline with opportunities in every stage, many
expected to close this month and the next."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accord.api import DemoContext, User, runtime_of, utcnow

from .conversion import convert_lead
from .models import Lead, Opportunity
from .service import create_lead, log_lead_activity
from .settings import OFFLINE_CHANNELS, ONLINE_CHANNELS
from .workflows import leads_settings

FIRST_NAMES = [
    "Anna", "Marco", "Giulia", "Lars", "Ingrid", "Jonas", "Claire", "Hugo", "Elena", "Pieter",
    "Sofia", "Matteo", "Freja", "Lukas", "Chiara", "Émile", "Nora", "Tobias", "Ilse", "Paolo",
]  # fmt: skip
LAST_NAMES = [
    "Rossi", "Bianchi", "Lindgren", "Berg", "Dubois", "Martin", "Jansen", "de Vries",
    "Ferrari", "Novak", "Keller", "Moreau", "Esposito", "Hansen", "Visser", "Romano",
]  # fmt: skip
COMPANIES = [
    ("Acquedotto Valtellina", "IT", "Sondrio", "23100"),
    ("Brescia Idraulica", "IT", "Brescia", "25121"),
    ("Cantina Sociale Monferrato", "IT", "Asti", "14100"),
    ("Milano Impianti", "IT", "Milano", "20121"),
    ("Göta Vatten", "SE", "Göteborg", "41101"),
    ("Uppsala Energi", "SE", "Uppsala", "75320"),
    ("Fjordkraft Service", "NO", "Bergen", "5003"),
    ("Lyon Thermique", "FR", "Lyon", "69002"),
    ("Rhône Pompage", "FR", "Valence", "26000"),
    ("Hamburger Stadtwerke Nord", "DE", "Hamburg", "20095"),
    ("Bayern Agrar Technik", "DE", "München", "80331"),
    ("Utrechtse Waterbouw", "NL", "Utrecht", "3511"),
    ("Delfland Gemalen", "NL", "Delft", "2611"),
    ("Agriturismo Le Querce", "IT", "Siena", "53100"),
    ("Kvarnby Bryggeri", "SE", "Malmö", "21120"),
]
LINES = ["Pumps", "Valves", "Controls", "Software"]
TITLES = ["Plant manager", "Purchasing", "Maintenance lead", "Owner", "Technical director", ""]
# The network's people a lead goes to, by country, as assignment rules would send it.
OWNER_BY_COUNTRY = {"IT": ("ugo", "sam"), "SE": ("dana",), "NO": ("dana",), "DE": ("sam", "sue")}
NOTES = {
    "trade_fair": "Met at the stand; wants a visit after the fair.",
    "phone": "Called the switchboard asking for a price list.",
    "web_form": "Asked for a quote through the contact form.",
    "partner": "Introduced by our installer partner.",
    "event": "Attended the open day.",
}


def seed(demo: DemoContext) -> None:
    session, rng = demo.session, demo.rng
    runtime = runtime_of(session)
    engine = runtime.workflows
    settings = leads_settings(session)
    channels = [c for c in (*ONLINE_CHANNELS, *OFFLINE_CHANNELS) if c in settings.channels]
    now = utcnow()
    leads: list[Lead] = []
    for number in range(72):
        channel = channels[number % len(channels)]
        company, country, city, postcode = COMPANIES[number % len(COMPANIES)]
        first = FIRST_NAMES[(number * 7) % len(FIRST_NAMES)]
        last = LAST_NAMES[(number * 5) % len(LAST_NAMES)]
        branch = (
            "" if number < len(COMPANIES) else f" {('Nord', 'Sud', 'Est', 'Ovest')[number % 4]}"
        )
        firm = f"{company}{branch}"
        slug = "".join(ch for ch in firm.lower() if ch.isalnum())[:20]
        owner = _owner(demo, country, number)
        result = create_lead(
            session,
            {
                "first_name": first,
                "last_name": last,
                "company": firm,
                "job_title": rng.choice(TITLES),
                "email": f"{first.lower()}.{last.lower().replace(' ', '')}@{slug}.example",
                "phone": f"+{_prefix(country)} {rng.randint(200, 999)} "
                f"{rng.randint(100000, 999999)}",
                "city": city,
                "postcode": postcode,
                "country": country,
                "channel": channel,
                "product_line": LINES[number % len(LINES)],
                "notes": NOTES.get(channel, ""),
            },
            owner_id=owner.id if owner is not None else None,
            assign=False,
            dedupe=False,
        )
        lead = result.lead
        lead.created_at = now - dt.timedelta(days=rng.randint(0, 89), hours=rng.randint(0, 23))
        leads.append(lead)
    session.flush()
    _duplicates(demo, leads)

    converted = 0
    for number, lead in enumerate(leads):
        step = number % 9
        if step == 0:
            continue  # still new
        log_lead_activity(session, lead, "First call: reached the right person", kind="call")
        engine.transition(session, lead, "contact")
        if step in (1, 2):
            continue
        if step == 3:
            reason = settings.disqualify_reasons[number % len(settings.disqualify_reasons)]
            engine.transition(session, lead, "disqualify", reason=reason)
            lead.disqualify_reason = reason
            continue
        engine.transition(session, lead, "qualify")
        if step == 4 or lead.owner_id is None:
            continue
        stage = ("qualification", "proposal", "negotiation", "proposal")[number % 4]
        close = (now + dt.timedelta(days=rng.choice((5, 12, 20, 35, 60, 95)))).date()
        convert_lead(
            session,
            lead,
            expected_revenue=Decimal(rng.randrange(3_000, 90_000, 500)),
            expected_close=close,
            stage=stage,
        )
        converted += 1
    opportunities = _pipeline_of_customers(demo, now)
    session.flush()
    demo.report(
        f"added {len(leads)} leads from {len(channels)} channels, converted {converted}, "
        f"and {opportunities} opportunities of existing customers in every stage"
    )


def _prefix(country: str) -> int:
    return {"IT": 39, "SE": 46, "NO": 47, "FR": 33, "DE": 49, "NL": 31}.get(country, 39)


def _owner(demo: DemoContext, country: str, number: int) -> User | None:
    logins = OWNER_BY_COUNTRY.get(country)
    if logins is None:
        # No territory of ours: the back office's queue until someone takes it.
        return None if number % 2 else demo.users["bea"]
    return demo.users[logins[number % len(logins)]]


def _duplicates(demo: DemoContext, leads: list[Lead]) -> None:
    """Two people who wrote again through another channel, entered by hand as new leads."""
    for original, channel in ((leads[1], "newsletter"), (leads[6], "trade_fair")):
        again = create_lead(
            demo.session,
            {
                "first_name": original.first_name,
                "last_name": original.last_name,
                "company": original.company.upper(),
                "phone": original.phone,
                "country": original.country,
                "channel": channel,
                "notes": "Entered from the visitor list; may be someone we know.",
            },
            owner_id=original.owner_id,
            assign=False,
            dedupe=False,
        ).lead
        log_lead_activity(demo.session, again, "Left a business card", kind="note")


def _pipeline_of_customers(demo: DemoContext, now: dt.datetime) -> int:
    """Opportunities of the demo's existing customers, a few in every stage."""
    session, rng = demo.session, demo.rng
    engine = runtime_of(session).workflows
    settings = leads_settings(session)
    path = {
        "qualification": [],
        "proposal": ["propose"],
        "negotiation": ["propose", "negotiate"],
        "won": ["propose", "negotiate", "win"],
        "lost": ["propose", "lose"],
    }
    stages = list(path)
    made = 0
    for number, customer in enumerate(demo.customers[:40]):
        stage = stages[number % len(stages)]
        line = LINES[number % len(LINES)]
        close = (now + dt.timedelta(days=rng.randint(-20, 80))).date()
        deal = Opportunity(
            name=f"{customer.name}: {line.lower()} "
            f"{('retrofit', 'expansion', 'renewal')[number % 3]}",
            partner_id=customer.id,
            product_line=line,
            expected_revenue=Decimal(rng.randrange(2_000, 150_000, 250)),
            expected_close=close,
            owner_id=customer.owner_id,
            team_id=customer.team_id,
        )
        engine.start(session, deal)
        session.flush()
        for step in path[stage]:
            if step == "lose":
                reason = settings.lost_reasons[number % len(settings.lost_reasons)]
                engine.transition(session, deal, step, reason=reason)
                deal.lost_reason = reason
            else:
                engine.transition(session, deal, step)
        made += 1
    return made
