"""The welcome add-on's hooks, written as a partner would (only ``accord.api`` from the
kernel). docs/hooks.md quotes the code between the ``# docs:`` markers, and
tests/core/test_docs.py fails when the two drift apart."""

from __future__ import annotations

from collections.abc import Sequence

from accord.api import ActivityKind, DemoContext, MailTemplate, hookimpl, log_activity

# docs: accord_mail_templates
WELCOME_LETTER = MailTemplate(
    "welcome.letter",
    subject="Welcome to {{ company }}, {{ customer }}",
    text=(
        "Dear {{ customer }},\n\n"
        "thank you for choosing {{ company }}. {{ manager }} looks after your account\n"
        "and will call you this week.\n"
    ),
    html=(
        "<p>Dear {{ customer }},</p>"
        "<p>thank you for choosing {{ company }}. {{ manager }} looks after your account "
        "and will call you this week.</p>"
    ),
)


@hookimpl
def accord_mail_templates() -> Sequence[MailTemplate]:
    return [WELCOME_LETTER]


# end docs


# docs: accord_demo
@hookimpl
def accord_demo(demo: DemoContext) -> None:
    welcomed = demo.rng.sample(list(demo.customers), 12)
    for customer in welcomed:
        log_activity(
            demo.session,
            customer.id,
            ActivityKind.CALL,
            f"Welcome call with {customer.name}",
            user_id=customer.owner_id or demo.users["bea"].id,
            source="welcome",
        )
    demo.report(f"logged {len(welcomed)} welcome calls")


# end docs
