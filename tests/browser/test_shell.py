"""A user's first minutes in Accord's web UI: logging in (after a wrong password), the menu
that their roles allow, changing their password, logging out, and the CSRF guard that
refuses a form sent without its token."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

PASSWORD = "correct horse battery"  # accord_make_user's default
HOME = re.compile(r"^http://127\.0\.0\.1:\d+/$")
LOGIN = re.compile(r"/login(\?.*)?$")

# The dummy add-on brings a menu entry, "Hello", for those who may read notes.
pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


def open_user_menu(page: Page, login: str) -> None:
    page.get_by_text(login, exact=True).click()  # the menu is a <details> under the name


def log_out(page: Page, login: str) -> None:
    open_user_menu(page, login)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_text("You have logged out.")).to_be_visible()


def test_user_logs_in_after_a_wrong_password_then_logs_out(page, log_in, accord_make_user):
    accord_make_user("alice", "salesperson")

    log_in("alice", "not her password")
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_role("alert")).to_have_text("Wrong login or password.")

    log_in("alice")
    expect(page).to_have_url(HOME)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("alice")
    log_out(page, "alice")

    page.goto("/")  # the session has ended: home asks for the login again
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_label("Login", exact=True)).to_be_visible()


def test_menu_entry_is_hidden_from_a_role_without_its_permission(page, log_in, accord_make_user):
    accord_make_user("nora", "dummy_note_taker")  # may read notes
    accord_make_user("sam", "salesperson")  # may not

    log_in("nora")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Hello").click()
    expect(page).to_have_url(re.compile(r"/dummy/hello$"))
    expect(page.get_by_text("Hello, world!")).to_be_visible()
    page.go_back()
    log_out(page, "nora")

    log_in("sam")
    menu = page.get_by_role("navigation", name="Main")
    expect(menu).to_contain_text("sam")
    expect(menu.get_by_role("link", name="Hello")).to_have_count(0)


def test_form_sent_without_its_csrf_token_is_refused(page, log_in, accord_make_user):
    accord_make_user("alice", "salesperson")
    log_in("alice")
    expect(page).to_have_url(HOME)

    # A log-out form that lost its token: the click is refused and alice stays logged in.
    page.evaluate("document.querySelectorAll('input[name=csrftoken]').forEach(i => i.remove())")
    open_user_menu(page, "alice")
    with page.expect_response(lambda response: response.request.method == "POST") as sent:
        page.get_by_role("button", name="Log out").click()
    assert sent.value.status == 403
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()

    # The same for a request sent with alice's cookies but no token at all.
    refused = page.request.post(
        "/account/password",
        form={"current": PASSWORD, "new": "stolen password", "confirm": "stolen password"},
    )
    assert refused.status == 403

    page.goto("/")
    expect(page).to_have_url(HOME)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("alice")


def test_password_change_shows_the_field_error_then_succeeds(page, log_in, accord_make_user):
    accord_make_user("alice", "salesperson")
    log_in("alice")
    page.goto("/account/password")
    current = page.get_by_label("Current password", exact=True)
    new = page.get_by_label("New password", exact=True)
    again = page.get_by_label("New password, again", exact=True)
    change = page.get_by_role("button", name="Change password")

    current.fill(PASSWORD)
    new.fill("short")
    again.fill("short")
    change.click()
    expect(page.get_by_role("alert")).to_have_text("Your password was not changed; see below.")
    expect(new).to_have_attribute("aria-invalid", "true")
    expect(new).to_have_accessible_description("Use at least 8 characters.")

    current.fill(PASSWORD)
    new.fill("a longer new password")
    again.fill("a longer new password")
    change.click()
    expect(page).to_have_url(HOME)
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()

    log_out(page, "alice")
    log_in("alice", PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Wrong login or password.")
    log_in("alice", "a longer new password")
    expect(page).to_have_url(HOME)
