"""A mass e-mail is tracked: its image records the recipient's open once, its links (those
of the campaign and the addresses written in its text) lead through personal tracked links
that record the recipient's click once per link, its unsubscribe link is no click, and the
campaign's page shows the figures. Sent through a real SMTP server and read back."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from accord.plugins.campaigns.api import Campaign, Touch, TrackedLink, start_mailing
from accord.plugins.campaigns.mailing import web_addresses
from accord.plugins.campaigns.responses import PIXEL, open_token
from accord.plugins.leads.api import Lead
from accord.testing import run_jobs

PUBLIC = "http://localhost:8000"


@pytest.fixture
def accord_extra_settings(smtp_server):
    return smtp_server.settings


class Page(HTMLParser):
    """The links and images of a mail's HTML part."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: dict[str, str] = {}  # text -> href
        self.images: list[str] = []
        self._href: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self._href = values.get("href")
        elif tag == "img":
            self.images.append(values.get("src") or "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links[data] = self._href
            self._href = None


@pytest.fixture
def mailing(
    network, make_lead, make_campaign, make_segment, system, as_user, accord_runtime, smtp_server
):
    """The spring newsletter, whose text names the grinders' page and which has a tracked
    link to the offer, sent to Anna and Bruno; returns the campaign, the leads and Anna's
    mail as received."""
    anna = make_lead(network["sam"], first_name="Anna", email="anna@castello.example")
    bruno = make_lead(network["sue"], first_name="Bruno", email="bruno@bar.example")
    segment_id = make_segment()
    campaign_id = make_campaign(
        "Spring newsletter",
        "newsletter",
        segment_id=segment_id,
        mail_subject="Spring offers",
        mail_body="Our new grinders are here (https://caffe.example/grinders).",
    )
    with system() as session:
        session.add(
            TrackedLink(
                campaign_id=campaign_id,
                name="Offer",
                destination="https://caffe.example/offer",
                utm_source="newsletter",
            )
        )
    with as_user(network["max"]) as session:
        assert start_mailing(session, session.get(Campaign, campaign_id)) == 2
    run_jobs(accord_runtime)
    message = next(m for m in smtp_server.messages if m["To"] == "anna@castello.example")
    return campaign_id, {"anna": anna, "bruno": bruno}, message


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC), url
    return url.removeprefix(PUBLIC)


def touches(system, kind: str) -> list[Touch]:
    with system() as session:
        found = session.scalars(select(Touch).where(Touch.kind == kind).order_by(Touch.id)).all()
        session.expunge_all()
        return list(found)


def test_the_mail_links_through_personal_tracked_links_and_carries_an_open_image(mailing):
    _, _, message = mailing
    page = Page(message.get_body(("html",)).get_content())
    [image] = page.images
    assert re.fullmatch(rf"{PUBLIC}/campaigns/o/[\w.-]+\.gif", image)
    # the address in the text, the campaign's link: both through Accord
    assert page.links["https://caffe.example/grinders"].startswith(f"{PUBLIC}/campaigns/t/")
    assert page.links["Offer"].startswith(f"{PUBLIC}/campaigns/t/")
    # the unsubscribe link is no tracked link
    assert page.links["Unsubscribe"].startswith(f"{PUBLIC}/campaigns/unsubscribe/")
    text = message.get_body(("plain",)).get_content()
    assert re.search(rf"grinders are here \({PUBLIC}/campaigns/t/[\w.-]+\)\.", text)
    assert "caffe.example" not in text


def test_opening_and_clicking_are_the_recipients_touches_once_each(
    mailing, anonymous, system, accord_runtime, sign_in
):
    campaign_id, leads, message = mailing
    page = Page(message.get_body(("html",)).get_content())
    [sent] = [t for t in touches(system, "email_sent") if t.lead_id == leads["anna"]]

    for _ in range(3):  # read three times: one open
        image = anonymous.get(path_of(page.images[0]))
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/gif"
        assert "no-store" in image.headers["cache-control"]
        assert image.content == PIXEL
    [opened] = touches(system, "email_opened")
    assert (opened.lead_id, opened.email, opened.sent_touch_id) == (
        leads["anna"],
        "anna@castello.example",
        sent.id,
    )

    for _ in range(2):  # clicked twice: one click of that link
        response = anonymous.get(path_of(page.links["https://caffe.example/grinders"]))
        assert response.status_code == 302
        target = urlsplit(response.headers["location"])
        assert (target.netloc, target.path) == ("caffe.example", "/grinders")
        assert parse_qs(target.query) == {
            "utm_source": ["newsletter"],
            "utm_medium": ["email"],
            "utm_campaign": ["Spring newsletter"],
        }
    anonymous.get(path_of(page.links["Offer"]))
    anonymous.get(path_of(page.links["Unsubscribe"]))  # asks first; no click either
    clicks = touches(system, "email_clicked")
    assert [(c.lead_id, c.detail, c.sent_touch_id) for c in clicks] == [
        (leads["anna"], "caffe.example/grinders", sent.id),
        (leads["anna"], "Offer", sent.id),
    ]
    assert touches(system, "link_click") == []

    run_jobs(accord_runtime)  # the lead's score follows its touches
    with system() as session:
        anna = session.get(Lead, leads["anna"])
        assert anna.touches == 4  # sent, opened, two links clicked
        bruno = session.get(Lead, leads["bruno"])
        assert bruno.touches == 1
        assert anna.score == bruno.score + 15  # 5 points per touch by default

    campaign_page = sign_in("max").get(f"/views/campaigns/{campaign_id}").text
    figures = re.findall(
        r"<tr><td>(Sent|Opened|Clicked)</td><td>(\d+)</td><td>([^<]*)</td>", campaign_page
    )
    assert figures == [("Sent", "2", ""), ("Opened", "1", "50 %"), ("Clicked", "1", "50 %")]
    assert "2 clicks on the mail's links" in campaign_page
    lead_page = sign_in("sam").get(f"/views/leads/{leads['anna']}").text
    assert "Email opened" in lead_page
    assert "Email clicked" in lead_page


def test_a_mail_clicked_with_images_off_counts_as_opened(mailing, anonymous, system, sign_in):
    campaign_id, _, message = mailing
    page = Page(message.get_body(("html",)).get_content())

    anonymous.get(path_of(page.links["Offer"]))  # the image never loaded

    assert touches(system, "email_opened") == []  # no open is made up
    campaign_page = sign_in("max").get(f"/views/campaigns/{campaign_id}").text
    figures = re.findall(
        r"<tr><td>(Sent|Opened|Clicked)</td><td>(\d+)</td><td>([^<]*)</td>", campaign_page
    )
    assert figures == [("Sent", "2", ""), ("Opened", "1", "50 %"), ("Clicked", "1", "50 %")]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "eyJzZW50IjoxfQ.forged",
        lambda token: "nothing-here",
    ],
)
def test_a_garbled_open_token_gets_the_same_image_and_records_nothing(
    mailing, anonymous, system, mangle
):
    _, _, message = mailing
    real = anonymous.get(path_of(Page(message.get_body(("html",)).get_content()).images[0]))
    token = mangle(real.request.url.path.rsplit("/", 1)[1].removesuffix(".gif"))
    touches_before = len(touches(system, "email_opened"))
    response = anonymous.get(f"/campaigns/o/{token}.gif")
    assert (response.status_code, response.content) == (200, PIXEL)
    assert response.headers == real.headers
    assert len(touches(system, "email_opened")) == touches_before == 1


def test_a_signed_token_of_no_mail_gets_the_same_image(accord_runtime, anonymous, system):
    token = open_token(accord_runtime, Touch(id=4242))
    response = anonymous.get(f"/campaigns/o/{token}.gif")
    assert (response.status_code, response.content) == (200, PIXEL)
    assert touches(system, "email_opened") == []


def test_the_addresses_of_the_text_become_tracked_links_once(
    mailing, system, as_user, network, accord_runtime
):
    campaign_id, _, _ = mailing
    with as_user(network["max"]) as session:
        assert start_mailing(session, session.get(Campaign, campaign_id)) == 0  # sent already
    with system() as session:
        links = session.scalars(
            select(TrackedLink).where(TrackedLink.campaign_id == campaign_id)
        ).all()
        assert sorted((link.name, link.destination, link.utm_medium) for link in links) == [
            ("Offer", "https://caffe.example/offer", ""),
            ("caffe.example/grinders", "https://caffe.example/grinders", "email"),
        ]


def test_web_addresses_leave_the_sentence_punctuation_out():
    text = "See https://a.example/x?y=1, or (https://b.example/). Not ftp://c.example nor http://"
    assert [address for _, _, address in web_addresses(text)] == [
        "https://a.example/x?y=1",
        "https://b.example/",
    ]
