"""The demo data of the visits add-on: it reads the welcome add-on's calls."""

from __future__ import annotations

from sqlalchemy import select

from accord.api import Activity, ActivityKind, DemoContext, hookimpl, log_activity


@hookimpl
def accord_demo(demo: DemoContext) -> None:
    calls = demo.session.scalars(select(Activity).where(Activity.source == "welcome")).all()
    for call in calls:
        log_activity(
            demo.session,
            call.partner_id,
            ActivityKind.MEETING,
            "Visit after the welcome call",
            user_id=call.user_id,
            source="welcome_visits",
        )
    demo.report(f"booked {len(calls)} visits")
