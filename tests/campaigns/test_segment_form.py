"""Marketing builds a segment on its form by picking what the people in it have in common
(where they came from, how far they got, what they want, where they are, their score),
checked field by field; the form stores it as the JSON filter that the mailing reads."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select

from accord.plugins.campaigns.api import Segment, recipients
from accord.testing import post_form as post

NEW = "/views/campaign_segments/new"


def error_of(page: str, name: str) -> str:
    found = re.search(rf'<small id="field-{name}-error" class="field-error">([^<]*)</small>', page)
    return unescape(found[1]) if found else ""


def ticked(page: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]+)" checked', page)


def segment_count(system) -> int:
    with system() as session:
        return session.scalar(select(func.count()).select_from(Segment)) or 0


ITALIAN_FAIRS = {
    "name": "Warm leads from fairs in Italy and France",
    "target": "leads",
    "channels": ["trade_fair", "web_form"],
    "states": ["new", "qualified"],
    "countries": "it, fr",
    "min_score": "20",
    "max_score": "90",
}


def test_marketing_builds_a_segment_that_the_mailing_reads(sign_in, network, make_lead, system):
    wanted = make_lead(email="anna@castello.example", company="Bar Castello", country="IT")
    make_lead(email="hans@ecke.example", company="Café Ecke", country="DE")  # elsewhere
    make_lead(email="x@y.example", channel="newsletter", company="Bar X", country="IT")
    max_ = sign_in("max")
    form = max_.get(NEW)
    assert 'name="channels" value="trade_fair"' in form.text  # the leads' own channels

    made = post(max_, NEW, **ITALIAN_FAIRS)

    assert made.status_code == 303, made.text
    segment_id = int(made.headers["location"].rsplit("/", 1)[1])
    with system() as session:
        segment = session.get_one(Segment, segment_id)
        assert segment.criteria == {
            "channels": ["trade_fair", "web_form"],
            "states": ["new", "qualified"],
            "countries": ["IT", "FR"],
            "min_score": 20,
            "max_score": 90,
        }
        assert [person.lead_id for person in recipients(session, segment)] == [wanted]
    page = max_.get(made.headers["location"]).text
    assert "IT, FR" in page
    assert "Trade fair, Web form" in page  # the channels in words


def test_each_wrong_criterion_is_named_and_nothing_is_written(sign_in, network, system):
    max_ = sign_in("max")

    unknown = post(max_, NEW, **{**ITALIAN_FAIRS, "channels": ["trade_fair", "fax"]})
    assert unknown.status_code == 422
    assert error_of(unknown.text, "channels") == "Pick among the choices."

    wrong = post(
        max_,
        NEW,
        **{
            **ITALIAN_FAIRS,
            "countries": "IT, Italy",
            "min_score": "80",
            "max_score": "20",
            "kinds": ["company"],
        },
    )

    assert wrong.status_code == 422
    assert error_of(wrong.text, "countries") == "'ITALY' is not a two-letter country code, e.g. IT."
    assert error_of(wrong.text, "max_score") == (
        "The range is upside down: this is below the lowest score."
    )
    assert error_of(wrong.text, "kinds") == (
        "Applies to customers only; clear it, or make this a segment of them."
    )
    assert ticked(wrong.text, "states") == ["new", "qualified"]  # what was ticked stays
    assert segment_count(system) == 0

    out_of_range = post(max_, NEW, **{**ITALIAN_FAIRS, "min_score": "150", "max_score": ""})
    assert error_of(out_of_range.text, "min_score") == "Between 0 and 100 (this is 150)."
    assert segment_count(system) == 0


def test_a_segment_is_edited_on_the_same_form(sign_in, network, system):
    max_ = sign_in("max")
    made = post(max_, NEW, **ITALIAN_FAIRS)
    path = made.headers["location"] + "/edit"
    form = max_.get(path)
    assert sorted(ticked(form.text, "channels")) == ["trade_fair", "web_form"]
    assert 'value="IT, FR"' in form.text

    saved = post(max_, path, name="Companies", target="partners", kinds=["company"])

    assert saved.status_code == 303, saved.text
    with system() as session:
        segment = session.scalars(select(Segment)).one()
        assert (segment.name, segment.target) == ("Companies", "partners")
        assert segment.criteria == {"kinds": ["company"]}

    taken = post(max_, NEW, name="Companies", target="partners")
    assert error_of(taken.text, "name") == "Another segment has this name."
