"""Offer approvals as the company's policy routes them: the same offer goes to different
hats under each preset of ``[orders] approval_preset``; an approver never approves an
offer they submitted, unless the company allows it; the last approval approves the offer
and a refusal sends it back to its salesperson."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from accord.api import TransitionBlockedError, TransitionNotAllowedError
from accord.plugins.orders.api import (
    ApprovalKind,
    LineInput,
    Offer,
    OfferApproval,
    create_offer,
    decide,
    revise,
    submit,
)

from .conftest import Company


def make_offer(company: Company, login: str = "sam", *, discount: str = "25") -> int:
    """An offer with a large discount on a pump and a made-to-order skid."""
    with company.as_(login) as session:
        offer = create_offer(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[
                LineInput(
                    Decimal("2"),
                    product_id=company.products["PUMP-100"],
                    discount_percent=Decimal(discount),
                ),
                LineInput(
                    Decimal("1"),
                    description="Pump skid for the Lake Garda plant",
                    unit_price=Decimal("12000"),
                ),
            ],
        )
        return offer.id


def submit_offer(company: Company, offer_id: int, login: str = "sam") -> dict[str, str]:
    with company.as_(login) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        approvals = submit(company.runtime, session, offer)
        return {approval.kind.value: approval.role for approval in approvals}


@pytest.mark.parametrize(
    ("orders_toml", "routed"),
    [
        (
            '[orders]\napproval_preset = "back_office"',
            {
                "discount": "back_office",
                "feasibility": "technical_office",
                "availability": "back_office",
            },
        ),
        (
            '[orders]\napproval_preset = "sales_network"',
            {"discount": "sales_manager", "feasibility": "technical_office"},
        ),
        (
            '[orders]\napproval_preset = "sales_management"',
            {
                "discount": "sales_manager",
                "feasibility": "technical_office",
                "availability": "back_office",
            },
        ),
    ],
    ids=["back_office", "sales_network", "sales_management"],
)
def test_each_preset_routes_the_same_offer_to_its_roles(company: Company, routed) -> None:
    offer_id = make_offer(company)
    assert submit_offer(company, offer_id) == routed
    with company.system() as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        assert offer.state == "submitted"


@pytest.mark.parametrize(
    "orders_toml",
    ['[orders]\napproval_preset = "sales_management"\ndiscount_approver = "back_office"'],
)
def test_a_company_overrides_one_step_of_its_preset(company: Company) -> None:
    offer_id = make_offer(company)
    assert submit_offer(company, offer_id)["discount"] == "back_office"


def test_a_discount_within_the_threshold_asks_only_for_availability(company: Company) -> None:
    offer_id = make_offer(company, discount="10")
    with company.as_("sam") as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        offer.lines.pop()  # only the stocked pump is left
        session.flush()
        assert [a.kind for a in submit(company.runtime, session, offer)] == [
            ApprovalKind.AVAILABILITY
        ]


@pytest.mark.parametrize("orders_toml", ['[orders]\navailability_approver = "none"'])
def test_without_exceptions_the_offer_is_approved_at_once(company: Company) -> None:
    with company.as_("sam") as session:
        offer = create_offer(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[
                LineInput(
                    Decimal("1"),
                    product_id=company.products["PUMP-100"],
                    discount_percent=Decimal("5"),
                )
            ],
        )
        assert submit(company.runtime, session, offer) == []
        assert offer.state == "approved"


def pending(company: Company, offer_id: int) -> dict[str, OfferApproval]:
    with company.system() as session:
        rows = session.scalars(
            select(OfferApproval).where(
                OfferApproval.offer_id == offer_id, OfferApproval.state == "pending"
            )
        ).all()
        return {row.kind.value: row for row in rows}


def decide_as(
    company: Company, login: str, approval_id: int, *, grant: bool = True, note: str = ""
) -> str:
    with company.as_(login) as session:
        approval = session.get(OfferApproval, approval_id)
        assert approval is not None
        offer = decide(company.runtime, session, approval, grant=grant, note=note)
        return offer.state


def test_the_last_approval_approves_the_offer(company: Company) -> None:
    offer_id = make_offer(company)
    submit_offer(company, offer_id)
    waiting = pending(company, offer_id)
    assert decide_as(company, "mia", waiting["discount"].id) == "submitted"
    assert decide_as(company, "ted", waiting["feasibility"].id) == "submitted"
    assert decide_as(company, "bea", waiting["availability"].id) == "approved"
    assert pending(company, offer_id) == {}


def test_an_approval_is_decided_only_by_the_role_it_is_routed_to(company: Company) -> None:
    offer_id = make_offer(company)
    submit_offer(company, offer_id)
    discount = pending(company, offer_id)["discount"]
    with pytest.raises(TransitionBlockedError, match="routed to sales management"):
        decide_as(company, "ted", discount.id)
    with pytest.raises(TransitionNotAllowedError, match="lacks the permission"):
        decide_as(company, "sam", discount.id)
    assert pending(company, offer_id)["discount"].state == "pending"


def test_a_manager_cannot_approve_the_offer_she_submitted(company: Company) -> None:
    offer_id = make_offer(company, "mia")
    submit_offer(company, offer_id, "mia")
    discount = pending(company, offer_id)["discount"]
    with pytest.raises(TransitionNotAllowedError, match="may not approve their own request"):
        decide_as(company, "mia", discount.id)
    assert pending(company, offer_id)["discount"].state == "pending"


@pytest.mark.parametrize(
    "orders_toml", ['[workflows."orders.offer_approval".grant]\nallow_self_approval = true']
)
def test_a_company_may_allow_self_approval(company: Company) -> None:
    offer_id = make_offer(company, "mia")
    submit_offer(company, offer_id, "mia")
    discount = pending(company, offer_id)["discount"]
    assert decide_as(company, "mia", discount.id) == "submitted"


def test_a_refusal_keeps_the_offer_from_approval_until_revised(company: Company) -> None:
    offer_id = make_offer(company)
    submit_offer(company, offer_id)
    waiting = pending(company, offer_id)
    decide_as(company, "mia", waiting["discount"].id, grant=False, note="25% is too much")
    decide_as(company, "ted", waiting["feasibility"].id)
    assert decide_as(company, "bea", waiting["availability"].id) == "submitted"
    with company.as_("sam") as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        reasons = {a.name: a.reason for a in company.runtime.workflows.available(session, offer)}
        assert reasons["approve"] == "an approval was refused; revise the offer"
        revise(company.runtime, session, offer)
        assert offer.state == "draft"


def test_a_refusal_needs_a_reason(company: Company) -> None:
    offer_id = make_offer(company)
    submit_offer(company, offer_id)
    with pytest.raises(Exception, match="reason"):
        decide_as(company, "mia", pending(company, offer_id)["discount"].id, grant=False)


def test_an_offer_changed_after_routing_cannot_be_submitted_from_a_board(
    company: Company,
) -> None:
    offer_id = make_offer(company, discount="5")
    with company.as_("sam") as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        reasons = {a.name: a.reason for a in company.runtime.workflows.available(session, offer)}
        assert reasons["submit"] == (
            "submit it from the offer's page, which routes it to its approvers"
        )


def test_the_nightly_job_expires_offers_whose_validity_ended(company: Company) -> None:
    import datetime as dt

    from accord.plugins.orders.offers import expire_offers

    with company.as_("sam") as session:
        offer = create_offer(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[LineInput(Decimal("1"), product_id=company.products["PUMP-100"])],
        )
        offer_id, valid_until = offer.id, offer.valid_until
    with company.system() as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        for approval in submit(company.runtime, session, offer):
            decide(company.runtime, session, approval, grant=True)
        assert offer.state == "approved"
        assert valid_until is not None
        assert expire_offers(company.runtime, session, valid_until) == 0  # still valid today
        assert expire_offers(company.runtime, session, valid_until + dt.timedelta(days=1)) == 1
        assert offer.state == "expired"
