"""The forms generated from the model views' declarations: /views/<view>/new and
/views/<view>/<id>/edit. Each field is inferred from its column and labelled; a wrong value
gets a message next to its field and nothing is written; what the access table refuses is a
message above the form (403); a success goes to the record's page with a message."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from html import unescape

import pytest
from sqlalchemy import Column, Date, DateTime, Integer, Numeric, String, Text, func, select
from starlette.testclient import TestClient

from accord.api import FormField, FormSection, ListColumn, ModelView, hookimpl
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.errors import PluginError, RecordInputError
from accord.core.numbers import Numbers
from accord.core.partners import Partner, PartnerKind
from accord.core.security import Team, TeamKind, User, create_user
from accord.ui import create_app
from accord.ui.fields import parse, resolve, resolve_attribute

from .conftest import PASSWORD, csrf_token, log_in

SYSTEM = Principal.system("test")
HTMX = {"HX-Request": "true"}
NOTES = "/views/dummy-notes"


@dataclass
class World:
    acme: int
    globex: int
    sam: int
    sid: int
    north: int


@pytest.fixture
def world(accord_db: Database) -> World:
    """Sam and Sid sell in the North team; Sam looks after Acme, Sid after Globex."""
    with accord_db.session(SYSTEM) as session:
        north = Team(name="North", kind=TeamKind.DIRECT_SALES)
        session.add(north)
        session.flush()
        sam = create_user(session, "sam", PASSWORD, name="Sam Seller", roles=["salesperson"])
        sid = create_user(session, "sid", PASSWORD, name="Sid Seller", roles=["salesperson"])
        sam.team_id = sid.team_id = north.id
        acme = Partner(kind=PartnerKind.COMPANY, name="Acme", owner_id=sam.id, team_id=north.id)
        globex = Partner(kind=PartnerKind.COMPANY, name="Globex", owner_id=sid.id)
        session.add_all([acme, globex])
        session.flush()
        return World(acme.id, globex.id, sam.id, sid.id, north.id)


def signed_in(make_client, login: str) -> TestClient:
    client = make_client()
    assert log_in(client, login).status_code == 303
    return client


def post(client: TestClient, path: str, headers=None, **data: str):
    return client.post(path, data={"csrftoken": csrf_token(client), **data}, headers=headers)


def message_of(page: str, name: str) -> str:
    found = re.search(rf'<small id="field-{name}-error" class="field-error">([^<]*)</small>', page)
    return unescape(found[1]) if found else ""


def partner_count(accord_db: Database) -> int:
    with accord_db.session(SYSTEM) as session:
        return session.scalar(select(func.count()).select_from(Partner)) or 0


CUSTOMER = {
    "name": "Initech",
    "kind": "company",
    "email": "hello@initech.example",
    "phone": "+1 555 0100",
    "website": "initech.example",
    "vat_number": "US123",
    "active": "on",
}


# --- the form -------------------------------------------------------------------------------


def test_every_input_of_the_customer_form_has_a_label(world, make_client):
    page = signed_in(make_client, "sam").get("/views/partners/new").text

    ids = re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', page)
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert {"field-name", "field-kind", "field-email", "field-active"} <= set(ids)
    assert [i for i in ids if i not in labelled and i != "topbar-find"] == []
    legends = re.findall(r"<legend>([^<]*)", page)
    assert [legend.strip() for legend in legends] == [
        "Customer",
        "Company",
        "Contact",
        "Sales network",
        "Owner",
        "Team",
    ]


def test_fields_are_inferred_from_their_columns(world, make_client):
    page = signed_in(make_client, "sam").get("/views/partners/new").text

    assert re.search(
        r'id="field-name" name="name" type="text" value="" required maxlength="200"', page
    )
    assert re.findall(r'type="(email|tel|url)"', page) == ["email", "tel", "url"]
    assert '<option value="company">Company</option>' in page  # an enum as a select
    assert 'type="checkbox" role="switch" id="field-active"' in page
    # A reference is a search, not a <select> of every customer.
    assert '<select id="field-company_id"' not in page
    assert 'hx-get="/views/partners/suggest/company_id"' in page


def test_the_new_form_proposes_the_user_as_owner_and_their_team(world, make_client):
    page = signed_in(make_client, "sam").get("/views/partners/new").text

    assert f'name="owner_id" value="{world.sam}" checked> Sam Seller' in page
    assert f'name="team_id" value="{world.north}" checked> North' in page


def test_a_link_may_prefill_the_form(world, nora_dummy, make_client):
    client = signed_in(make_client, "nora_dummy")
    page = client.get(f"{NOTES}/new?partner_id={world.acme}").text

    assert f'name="partner_id" value="{world.acme}" checked> Acme' in page


@pytest.fixture
def nora_dummy(accord_make_user) -> User:
    """A note taker of the back office, who may write notes on every customer."""
    return accord_make_user("nora_dummy", "dummy_note_taker", "back_office")


# --- creating -------------------------------------------------------------------------------


def test_a_salesperson_creates_a_customer_in_their_own_scope(world, make_client, accord_db):
    client = signed_in(make_client, "sam")

    response = post(
        client,
        "/views/partners/new",
        **CUSTOMER,
        owner_id=str(world.sam),
        team_id=str(world.north),
    )

    assert response.status_code == 303, response.text
    with accord_db.session(SYSTEM) as session:
        made = session.scalars(select(Partner).where(Partner.name == "Initech")).one()
        assert (made.owner_id, made.team_id, made.kind) == (world.sam, world.north, "company")
        assert made.website == "https://initech.example"
        assert made.active is True
    assert response.headers["location"] == f"/partners/{made.id}"  # the customer 360 page
    # And Sam may read it at once: it landed in their own scope.
    page = client.get(f"/views/partners/{made.id}")
    assert page.status_code == 200
    assert "Initech was created." in page.text


def test_the_kernel_sets_the_owner_when_the_form_does_not_ask(world, accord_runtime, make_client):
    """A plugin's form without owner and team: the new record is the user's anyway."""

    class OwnForm:
        @hookimpl
        def accord_model_views(self):
            return [
                ModelView(
                    "quick-customers",
                    model="core_partner",
                    title="Quick customers",
                    columns=(ListColumn("name", "Name"),),
                    form=(FormSection("", (FormField("name"), FormField("kind"))),),
                )
            ]

    accord_runtime.pm.register(OwnForm(), name="own_form")
    client = signed_in(make_client, "sam")

    response = post(client, "/views/quick-customers/new", name="Hooli", kind="company")

    assert response.status_code == 303, response.text
    made_id = int(response.headers["location"].rsplit("/", 1)[1])
    with accord_runtime.db.session(SYSTEM) as session:
        made = session.get_one(Partner, made_id)
        assert (made.owner_id, made.team_id) == (world.sam, world.north)


def test_wrong_values_are_shown_next_to_their_fields_and_nothing_is_written(
    world, make_client, accord_db
):
    client = signed_in(make_client, "sam")
    before = partner_count(accord_db)

    response = post(
        client,
        "/views/partners/new",
        **{**CUSTOMER, "name": "  ", "email": "not-an-address", "kind": "planet"},
        owner_id=str(world.sam),
    )

    assert response.status_code == 422
    assert message_of(response.text, "name") == "This field is required."
    assert message_of(response.text, "email") == "Enter an e-mail address such as name@example.com."
    assert message_of(response.text, "kind") == "Pick one of the choices."
    assert 'aria-invalid="true" aria-describedby="field-email-error"' in response.text
    assert 'value="not-an-address"' in response.text  # what was typed is kept
    assert 'value="+1 555 0100"' in response.text
    assert '<a href="#field-name">Name</a>' in response.text  # the summary links to it
    assert partner_count(accord_db) == before


def test_an_htmx_submission_gets_the_form_back_or_is_told_where_to_go(
    world, make_client, accord_db
):
    client = signed_in(make_client, "sam")

    refused = post(client, "/views/partners/new", headers=HTMX, **{**CUSTOMER, "name": ""})
    assert refused.status_code == 422
    assert "<html" not in refused.text
    assert refused.text.lstrip().startswith('<form id="record-form"')

    done = post(client, "/views/partners/new", headers=HTMX, **CUSTOMER, owner_id=str(world.sam))
    assert done.status_code == 200
    assert re.fullmatch(r"/partners/\d+", done.headers["HX-Redirect"])


def test_the_plugins_validator_speaks_next_to_the_field(world, nora_dummy, make_client):
    client = signed_in(make_client, "nora_dummy")

    response = post(client, f"{NOTES}/new", partner_id=str(world.acme), body="Called")

    assert response.status_code == 422
    assert message_of(response.text, "body") == "Say what happened in at least three words."
    assert ">Called</textarea>" in response.text

    response = post(
        client, f"{NOTES}/new", partner_id=str(world.acme), body="Called about the renewal"
    )

    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Called about the renewal was created." in page.text
    assert '<span class="record-state">Draft</span>' in page.text  # the workflow's first state
    assert re.search(r'data-field="author_id">\s*<dt>Author</dt>\s*<dd>nora_dummy</dd>', page.text)


def test_a_reference_the_user_may_not_read_is_refused(world, make_client, accord_db):
    client = signed_in(make_client, "sam")
    before = partner_count(accord_db)

    response = post(
        client,
        "/views/partners/new",
        **{**CUSTOMER, "kind": "person"},
        company_id=str(world.globex),  # Sid's customer
        owner_id=str(world.sam),
    )

    assert response.status_code == 422
    assert message_of(response.text, "company_id").startswith(
        "There is no such company, or you may not see it"
    )
    assert "Globex" not in response.text
    assert partner_count(accord_db) == before


def test_what_the_access_table_refuses_is_a_message_above_the_form(world, make_client, accord_db):
    client = signed_in(make_client, "sam")
    before = partner_count(accord_db)

    # Sam may create customers, but only his own: not one for Sid.
    response = post(client, "/views/partners/new", **CUSTOMER, owner_id=str(world.sid))

    assert response.status_code == 403
    assert '<div id="record-form-problem" class="form-error" role="alert">' in response.text
    assert "Your roles do not let you create customers like this one" in response.text
    assert "Traceback" not in response.text
    assert 'value="Initech"' in response.text
    assert partner_count(accord_db) == before


def test_who_may_not_create_gets_no_button_and_403(world, make_client, logged_in):
    reader = logged_in("tom", "technical_office")

    assert 'href="/views/partners/new"' not in reader.get("/views/partners").text
    assert reader.get("/views/partners/new").status_code == 403
    assert post(reader, "/views/partners/new", **CUSTOMER).status_code == 403
    assert (
        'href="/views/partners/new">New</a>'
        in signed_in(make_client, "sam").get("/views/partners").text
    )


# --- editing --------------------------------------------------------------------------------


def test_the_edit_form_shows_the_record_and_saves_a_change(world, make_client, accord_db):
    client = signed_in(make_client, "sam")

    form = client.get(f"/views/partners/{world.acme}/edit")
    assert form.status_code == 200
    assert 'id="field-name" name="name" type="text" value="Acme"' in form.text
    assert '<option value="company" selected>Company</option>' in form.text

    response = post(
        client,
        f"/views/partners/{world.acme}/edit",
        name="Acme Corporation",
        kind="company",
        email="sales@acme.example",
        owner_id=str(world.sam),
        team_id=str(world.north),
        active="on",
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/partners/{world.acme}"
    with accord_db.session(SYSTEM) as session:
        acme = session.get_one(Partner, world.acme)
        assert (acme.name, acme.email) == ("Acme Corporation", "sales@acme.example")
    assert "Acme Corporation was saved." in client.get(f"/views/partners/{world.acme}").text


def test_a_salesperson_cannot_hand_their_customer_to_someone_else(world, make_client, accord_db):
    client = signed_in(make_client, "sam")

    response = post(
        client,
        f"/views/partners/{world.acme}/edit",
        name="Acme",
        kind="company",
        owner_id=str(world.sid),
        active="on",
    )

    assert response.status_code == 403
    assert "Your roles do not let you save this change" in response.text
    with accord_db.session(SYSTEM) as session:
        assert session.get_one(Partner, world.acme).owner_id == world.sam


def test_read_but_not_write_is_403_and_not_readable_is_404(world, make_client, logged_in):
    reader = logged_in("tom", "technical_office")
    sid = signed_in(make_client, "sid")

    assert reader.get(f"/views/partners/{world.acme}/edit").status_code == 403
    assert post(reader, f"/views/partners/{world.acme}/edit", name="X").status_code == 403
    assert sid.get(f"/views/partners/{world.acme}/edit").status_code == 404
    assert sid.get(f"/views/partners/{world.acme}/edit", headers=HTMX).status_code == 404
    assert post(sid, f"/views/partners/{world.acme}/edit", name="X").status_code == 404


def test_a_record_changed_since_the_form_was_opened_is_not_overwritten(
    world, nora_dummy, make_client, accord_db
):
    from accord_dummy.models import DummyNote

    with accord_db.session(SYSTEM) as session:
        note = DummyNote(partner_id=world.acme, body="First words here", state="draft")
        session.add(note)
        session.flush()
        note_id, version = note.id, note.version
    client = signed_in(make_client, "nora_dummy")
    assert f'name="_version" value="{version}"' in client.get(f"{NOTES}/{note_id}/edit").text
    with accord_db.session(SYSTEM) as session:
        session.get_one(DummyNote, note_id).body = "Someone else's words"

    response = post(
        client,
        f"{NOTES}/{note_id}/edit",
        partner_id=str(world.acme),
        body="My own words here",
        _version=str(version),
    )

    assert response.status_code == 409
    assert "changed by someone else since you opened the form" in response.text
    assert ">My own words here</textarea>" in response.text
    with accord_db.session(SYSTEM) as session:
        assert session.get_one(DummyNote, note_id).body == "Someone else's words"


# --- suggestions of a reference field -------------------------------------------------------


def test_suggestions_hold_only_the_rows_the_user_may_read(world, make_client, accord_db):
    with accord_db.session(SYSTEM) as session:
        session.add_all(
            Partner(kind=PartnerKind.COMPANY, name=f"Acme branch {n:02}", owner_id=world.sam)
            for n in range(15)
        )
    sam = signed_in(make_client, "sam")
    sid = signed_in(make_client, "sid")
    path = "/views/partners/suggest/company_id?company_id__find="

    mine = sam.get(path + "acme", headers=HTMX)
    theirs = sid.get(path + "acme", headers=HTMX)
    nothing = sid.get(path + "glob%25", headers=HTMX)

    names = re.findall(r'<input type="radio" name="company_id" value="\d+"> ([^<]+)', mine.text)
    assert names == ["Acme", *(f"Acme branch {n:02}" for n in range(9))]  # ten, by name
    assert "<html" not in mine.text
    assert 'value="" checked> None' in mine.text  # the company may be left empty
    assert "Acme" not in theirs.text
    assert "Nothing you may see matches “glob%”." in unescape(nothing.text)
    assert sam.get("/views/partners/suggest/name?name__find=a").status_code == 404


# --- saving through a plugin's service ------------------------------------------------------


class ServicePlugin:
    """Customers saved through a "service": the name is kept in capitals, a name with
    "ltd" is refused after something was already written, and an edit logs a note."""

    @staticmethod
    def create(session, principal, values):
        customer = Partner(kind=PartnerKind.COMPANY, name=values["name"].upper())
        customer.owner_id = values["owner_id"]  # the kernel's default, under the form's
        session.add(customer)
        session.flush()
        if "ltd" in values["name"].lower():
            raise RecordInputError(
                {"name": "Leave the legal form out.", "": "See the other one."},
                links=[("Acme", f"/partners/{customer.id}")],
            )
        return customer

    @staticmethod
    def update(session, principal, customer, values):
        customer.name = values["name"].upper()
        if values.get("email") == "taken@example.com":
            raise RecordInputError({"email": "Already used."})
        return customer

    @hookimpl
    def accord_model_views(self):
        return [
            ModelView(
                "shouting",
                model="core_partner",
                title="Customers",
                columns=(ListColumn("name", "Name"),),
                form=(FormSection("", (FormField("name"), FormField("email"))),),
                create=self.create,
                update=self.update,
            )
        ]


def test_a_view_may_save_new_records_through_its_plugins_service(
    world, accord_runtime, make_client, accord_db
):
    accord_runtime.pm.register(ServicePlugin(), name="shouting")
    client = signed_in(make_client, "sam")

    made = post(client, "/views/shouting/new", name="Initech")

    assert made.status_code == 303
    with accord_db.session(SYSTEM) as session:
        initech = session.scalars(select(Partner).where(Partner.name == "INITECH")).one()
        assert initech.owner_id == world.sam
    assert made.headers["location"] == f"/views/shouting/{initech.id}"


def test_what_the_service_refuses_is_shown_by_its_fields_and_nothing_is_written(
    world, accord_runtime, make_client, accord_db
):
    accord_runtime.pm.register(ServicePlugin(), name="shouting")
    client = signed_in(make_client, "sam")
    before = partner_count(accord_db)

    refused = post(client, "/views/shouting/new", name="Initech Ltd")

    assert refused.status_code == 422
    assert message_of(refused.text, "name") == "Leave the legal form out."
    assert "See the other one." in refused.text
    assert re.search(r'<a href="/partners/\d+">Acme</a>', refused.text)
    assert partner_count(accord_db) == before  # the service's own flush was undone

    path = f"/views/shouting/{world.acme}/edit"
    edited = post(client, path, name="acme", email="taken@example.com")
    assert edited.status_code == 422
    assert message_of(edited.text, "email") == "Already used."
    with accord_db.session(SYSTEM) as session:
        assert session.get_one(Partner, world.acme).name == "Acme"


def test_a_service_that_returns_something_else_is_named(world, accord_runtime, make_client):
    class Wrong:
        @hookimpl
        def accord_model_views(self):
            return [
                ModelView(
                    "wrong",
                    model="core_partner",
                    title="Customers",
                    columns=(ListColumn("name", "Name"),),
                    form=(FormSection("", (FormField("name"),)),),
                    create=lambda session, principal, values: values["name"],
                )
            ]

    accord_runtime.pm.register(Wrong(), name="wrong")
    client = signed_in(make_client, "sam")

    with pytest.raises(PluginError, match="model view 'wrong': create returned str, not a Partner"):
        post(client, "/views/wrong/new", name="Initech")


# --- declarations ---------------------------------------------------------------------------


def test_a_form_that_would_set_a_workflow_state_stops_the_app(world, accord_runtime):
    class StateForm:
        @hookimpl
        def accord_model_views(self):
            return [
                ModelView(
                    "state-notes",
                    model="dummy_note",
                    title="Notes",
                    columns=(ListColumn("body", "Note"),),
                    form=(FormSection("", (FormField("body"), FormField("state"))),),
                )
            ]

    accord_runtime.pm.register(StateForm(), name="state_form")

    with pytest.raises(
        PluginError,
        match=r"plugin 'state_form', model view 'state-notes', "
        r"field 'state': a workflow's state changes only through its "
        r"transitions",
    ):
        create_app(accord_runtime)


def test_a_form_field_that_is_not_a_column_stops_the_app(world, accord_runtime):
    class Misspelt:
        @hookimpl
        def accord_model_views(self):
            return [
                ModelView(
                    "misspelt",
                    model="core_partner",
                    title="Customers",
                    columns=(ListColumn("name", "Name"),),
                    form=(FormSection("", (FormField("nmae"),)),),
                )
            ]

    accord_runtime.pm.register(Misspelt(), name="misspelt")

    with pytest.raises(PluginError, match="field 'nmae': core_partner has no such column"):
        create_app(accord_runtime)


def test_a_field_that_is_no_column_needs_the_views_own_saving(world, accord_runtime):
    class Unsaved:
        @hookimpl
        def accord_model_views(self):
            return [
                ModelView(
                    "unsaved",
                    model="core_partner",
                    title="Customers",
                    columns=(ListColumn("name", "Name"),),
                    form=(FormSection("", (FormField("company", kind="text"),)),),
                )
            ]

    accord_runtime.pm.register(Unsaved(), name="unsaved")

    with pytest.raises(
        PluginError,
        match="field 'company': core_partner has no such column; a field that is an attribute "
        "of the model needs the view's create and update to store it",
    ):
        create_app(accord_runtime)


def test_several_choices_are_ticked_among_the_known_ones() -> None:
    declared = FormField("tags", kind="multiple", choices=(("a", "A"), ("b", "B")))
    spec = resolve_attribute(declared)
    assert parse(spec, ["b", "a", "b"], Numbers()) == (("b", "a"), None)
    assert parse(spec, [], Numbers()) == ((), None)
    assert parse(spec, ["a", "z"], Numbers()) == (("a", "z"), "Pick among the choices.")
    required = resolve_attribute(
        FormField("tags", kind="multiple", required=True, choices=(("a", "A"),))
    )
    assert parse(required, [], Numbers()) == ((), "Pick at least one.")


@pytest.mark.parametrize(
    ("column", "kind", "required"),
    [
        (Column("x", String(80), nullable=False), "text", True),
        (Column("x", String(80), nullable=False, default=""), "text", False),
        (Column("x", Text, nullable=True), "textarea", False),
        (Column("x", Integer, nullable=False), "integer", True),
        (Column("x", Numeric(12, 2), nullable=True), "decimal", False),
        (Column("x", Date, nullable=True), "date", False),
        (Column("x", DateTime(timezone=True), nullable=True), "datetime", False),
    ],
)
def test_kinds_and_requirement_come_from_the_column(column, kind, required) -> None:
    field = resolve(FormField("x"), column, None)

    assert (field.kind, field.required, field.label) == (kind, required, "X")


@pytest.mark.parametrize(
    ("column", "sent", "value", "problem"),
    [
        (Column("x", Integer), "12", 12, None),
        (Column("x", Integer), "twelve", "twelve", "Enter a whole number."),
        (Column("x", Numeric(12, 2)), "1,234.50", decimal.Decimal("1234.50"), None),
        (
            Column("x", Numeric(12, 2)),
            "1.234",
            "1.234",
            "At most 2 digits after the decimal point.",
        ),
        (Column("x", Date), "2026-11-23", dt.date(2026, 11, 23), None),
        (Column("x", Date), "23/11/2026", "23/11/2026", "Enter a date as YYYY-MM-DD."),
        (
            Column("x", DateTime(timezone=True)),
            "2026-11-23T14:30",
            dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC),
            None,
        ),
        (Column("x", String(3)), "abcd", "abcd", "At most 3 characters (this has 4)."),
        (Column("x", String(3), nullable=True), "", None, None),
    ],
)
def test_submitted_text_becomes_a_typed_value_or_a_message(column, sent, value, problem) -> None:
    assert parse(resolve(FormField("x"), column, None), [sent], Numbers()) == (value, problem)


# --- the example of the plugin guide ------------------------------------------------------


def documented_contacts_plugin() -> object:
    """The plugin that docs/plugin-development.md shows, as written."""
    from pathlib import Path
    from types import SimpleNamespace

    guide = (Path(__file__).parents[2] / "docs" / "plugin-development.md").read_text()
    section = guide.split("## Lists, record pages and forms", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/plugin-development.md", "exec"), namespace)
    return SimpleNamespace(accord_model_views=namespace["accord_model_views"])


def test_the_contacts_form_of_the_plugin_guide_works_as_documented(
    world, accord_runtime, make_client, accord_db
):
    accord_runtime.pm.register(documented_contacts_plugin(), name="acme_contacts")
    client = signed_in(make_client, "sam")
    contact = {"name": "Wile E. Coyote", "email": "info@acme.example", "phone": "+1 555 0199"}
    with accord_db.session(SYSTEM) as session:
        session.get_one(Partner, world.acme).email = "info@acme.example"

    alone = post(client, "/views/acme_contacts/new", **contact)
    assert alone.status_code == 422
    assert message_of(alone.text, "company_id") == "A contact works for a company: pick it."

    taken = post(client, "/views/acme_contacts/new", company_id=str(world.acme), **contact)
    assert taken.status_code == 422
    assert message_of(taken.text, "email") == "This is already the e-mail of Acme."

    contact["email"] = "wile@acme.example"
    made = post(client, "/views/acme_contacts/new", company_id=str(world.acme), **contact)
    assert made.status_code == 303, made.text
    page = client.get(made.headers["location"])
    assert "Wile E. Coyote was created." in page.text
    assert re.search(
        r'data-field="company_id">\s*<dt>Works for</dt>\s*<dd><a href="/partners/', page.text
    )
    with accord_db.session(SYSTEM) as session:
        wile = session.scalars(select(Partner).where(Partner.name == "Wile E. Coyote")).one()
        assert (wile.kind, wile.company_id, wile.owner_id) == ("person", world.acme, world.sam)
