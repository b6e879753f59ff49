"""A list shows the name of the user who owns each row where the reader may see that user,
and the owner's id where not: the names are read through the reader's access rules, here a
company where users see only the users of their own team."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accord.core.access import Principal
from accord.core.partners import Partner, PartnerKind
from accord.core.security import TeamKind, create_team, create_user

from .conftest import PASSWORD, log_in


@pytest.fixture
def accord_extra_settings() -> dict[str, Any]:
    return {"access": {"core.user_directory": {"scope": "team"}}}


def owner_cells(page: str) -> dict[str, str]:
    """Customer name: owner cell, for every row of the list."""
    rows = re.findall(r"<tr>\s*<td><a [^>]*>([^<]*)</a></td>(.*?)</tr>", page, re.S)
    return {name: re.findall(r"<td>([^<]*)</td>", cells)[-1] for name, cells in rows}


def test_an_owner_the_reader_may_not_see_shows_as_an_id(accord_db, make_client):
    with accord_db.session(Principal.system("test")) as session:
        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        south = create_team(session, "South", TeamKind.DIRECT_SALES)
        create_user(session, "mia", PASSWORD, roles=["back_office"], team=north)
        nora = create_user(session, "nora", PASSWORD, name="Nora", roles=["agent"], team=north)
        sid = create_user(session, "sid", PASSWORD, name="Sid", roles=["agent"], team=south)
        for name, owner in (("Alpha Ltd", nora), ("Beta Ltd", sid), ("Gamma Ltd", None)):
            owner_id = owner.id if owner else None
            session.add(Partner(kind=PartnerKind.COMPANY, name=name, owner_id=owner_id))
    client = make_client()
    assert log_in(client, "mia").status_code == 303
    page = client.get("/views/partners")
    assert page.status_code == 200
    assert owner_cells(page.text) == {"Alpha Ltd": "Nora", "Beta Ltd": str(sid.id), "Gamma Ltd": ""}
