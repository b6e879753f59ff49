"""Signing in and out, the password form, CSRF and the session cookie, as a user meets them."""

import re
from http.cookies import SimpleCookie

from sqlalchemy import select

from accord.core.security import User, set_roles, verify_password

from .conftest import PASSWORD, csrf_token, log_in


def error_of(response) -> str:
    match = re.search(r'<p class="form-error" role="alert">([^<]*)</p>', response.text)
    return match.group(1) if match else ""


def test_user_logs_in_and_lands_on_the_dashboard(client, accord_make_user, accord_session):
    accord_make_user("alice", "salesperson")
    response = log_in(client, "alice")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "<h1>Dashboard</h1>" in page.text
    assert "Account of alice" in page.text
    alice = accord_session.scalar(select(User).where(User.login == "alice"))
    assert alice.last_login_at is not None


def test_wrong_password_and_unknown_login_get_the_same_message(client, accord_make_user):
    accord_make_user("alice", "salesperson")
    wrong_password = log_in(client, "alice", "not the password")
    unknown_login = log_in(client, "mallory", "not the password")
    assert wrong_password.status_code == unknown_login.status_code == 400
    assert error_of(wrong_password) == error_of(unknown_login) == "Wrong login or password."
    assert "accord_session" not in wrong_password.cookies
    assert client.get("/").status_code == 303


def test_login_returns_to_the_page_asked_for_and_only_on_this_site(client, accord_make_user):
    accord_make_user("alice", "salesperson")
    asked = client.get("/account/password")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Faccount%2Fpassword"
    form = client.get(asked.headers["location"])
    assert 'name="next" value="/account/password"' in form.text
    mistyped = log_in(client, "alice", "wrong password", next="/account/password")
    assert 'name="next" value="/account/password"' in mistyped.text, "kept after a mistake"
    response = log_in(client, "alice", next="/account/password")
    assert response.headers["location"] == "/account/password"
    elsewhere = log_in(client, "alice", next="//evil.example/phish")
    assert elsewhere.headers["location"] == "/"


def test_htmx_request_without_a_session_is_sent_to_the_login_page(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"
    assert client.get("/dummy/hello").headers["location"] == "/login?next=%2Fdummy%2Fhello"


def test_too_many_attempts_are_refused_even_with_the_right_password(client, accord_make_user):
    accord_make_user("alice", "salesperson")
    for _ in range(5):
        assert log_in(client, "alice", "guess again").status_code == 400
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert error_of(response) == "Too many attempts; try again in a minute."
    assert client.get("/").status_code == 303


def test_attempts_from_one_address_are_limited_across_logins(client, accord_make_user):
    accord_make_user("alice", "salesperson")
    for number in range(20):
        log_in(client, f"guess{number}", "guess again")
    assert error_of(log_in(client, "alice")) == "Too many attempts; try again in a minute."


def test_logout_needs_a_post_with_the_csrf_token(logged_in):
    client = logged_in("alice", "salesperson")
    assert client.get("/logout").status_code == 405
    refused = client.post("/logout")
    assert refused.status_code == 403
    assert "This form has expired" in refused.text
    assert client.get("/").status_code == 200, "still logged in"
    response = client.post("/logout", data={"csrftoken": csrf_token(client)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "You have logged out." in client.get("/login").text
    assert client.get("/").status_code == 303


def test_htmx_posts_carry_the_token_in_a_header(logged_in):
    client = logged_in("alice", "salesperson")
    page = client.get("/")
    token = client.cookies["csrftoken"]
    assert f"""<body hx-headers='{{"x-csrftoken": "{token}"}}'>""" in page.text
    response = client.post("/logout", headers={"HX-Request": "true", "x-csrftoken": token})
    assert response.status_code == 303


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(logged_in, accord_session):
    client = logged_in("alice", "salesperson")
    form = {"current": PASSWORD, "new": "a brand new secret", "confirm": "a brand new secret"}
    response = client.post("/account/password", data=form)
    assert response.status_code == 403
    assert "This form has expired" in response.text
    alice = accord_session.scalar(select(User).where(User.login == "alice"))
    assert verify_password(alice, PASSWORD)


def test_a_login_form_posted_from_elsewhere_is_refused(make_client, accord_make_user):
    accord_make_user("alice", "salesperson")
    stranger = make_client()
    response = stranger.post("/login", data={"login": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert "accord_session" not in response.cookies


def test_password_change_shows_each_error_next_to_its_field(logged_in):
    client = logged_in("alice", "salesperson")
    form = {"current": "", "new": "short", "confirm": "other", "csrftoken": csrf_token(client)}
    response = client.post("/account/password", data=form)
    assert response.status_code == 400
    text = response.text
    assert "Your password was not changed" in text
    assert re.search(r'id="field-current-error"[^>]*>Enter your current password', text)
    assert re.search(r'id="field-new-error"[^>]*>Use at least 8 characters', text)
    assert re.search(r'id="field-confirm-error"[^>]*>This does not match', text)
    assert 'aria-describedby="field-new-error"' in text
    wrong = client.post(
        "/account/password",
        data={**form, "current": "not it", "new": "long enough now", "confirm": "long enough now"},
    )
    assert re.search(r'id="field-current-error"[^>]*>This is not your current password', wrong.text)
    assert "field-new-error" not in wrong.text


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    logged_in, make_client, accord_session
):
    client = logged_in("alice", "salesperson")
    other_device = make_client()
    assert log_in(other_device, "alice").status_code == 303
    new = "a brand new secret"
    form = {"current": PASSWORD, "new": new, "confirm": new, "csrftoken": csrf_token(client)}
    response = client.post("/account/password", data=form)
    assert response.status_code == 303
    page = client.get("/")
    assert "Your password has been changed." in page.text
    assert "Your password has been changed." not in client.get("/").text, "shown once"
    ended = other_device.get("/")
    assert ended.status_code == 303
    assert "please log in again" in other_device.get("/login").text
    assert log_in(make_client(), "alice", new).status_code == 303
    alice = accord_session.scalar(select(User).where(User.login == "alice"))
    assert verify_password(alice, new)


def test_a_deactivated_user_is_logged_out(logged_in, accord_db):
    from accord.core.access import Principal

    client = logged_in("alice", "salesperson")
    with accord_db.session(Principal.system("test")) as session:
        session.scalar(select(User).where(User.login == "alice")).active = False
    assert client.get("/").status_code == 303
    assert "no longer active" in client.get("/login").text
    assert error_of(log_in(client, "alice")) == "Wrong login or password."


def test_a_change_of_roles_applies_from_the_next_request(logged_in, accord_db):
    from accord.core.access import Principal

    client = logged_in("alice", "salesperson")
    assert client.get("/views/partners").status_code == 200
    with accord_db.session(Principal.system("test")) as session:
        set_roles(session, session.scalar(select(User).where(User.login == "alice")), [])
    assert client.get("/views/partners").status_code == 403
    with accord_db.session(Principal.system("test")) as session:
        alice = session.scalar(select(User).where(User.login == "alice"))
        set_roles(session, alice, ["salesperson"])
    assert client.get("/views/partners").status_code == 200


def session_cookie(response) -> SimpleCookie:
    header = next(
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith("accord_session=")
    )
    cookie = SimpleCookie()
    cookie.load(header)
    return cookie


def test_session_cookie_is_http_only_and_same_site_lax(client, accord_make_user):
    accord_make_user("alice", "salesperson")
    morsel = session_cookie(log_in(client, "alice"))["accord_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert not morsel["secure"]


def test_secure_cookies_are_sent_over_https_only(make_client, accord_make_user):
    accord_make_user("alice", "salesperson")
    client = make_client(secure_cookies=True, base_url="https://testserver")
    form = client.get("/login")
    assert "Secure" in form.headers["set-cookie"]
    assert form.headers["set-cookie"].startswith("csrftoken=")
    response = log_in(client, "alice")
    assert session_cookie(response)["accord_session"]["secure"] is True


def test_guessing_the_current_password_is_limited_too(logged_in):
    client = logged_in("alice", "salesperson")
    new = "a brand new secret"
    form = {"new": new, "confirm": new, "csrftoken": csrf_token(client)}
    for number in range(5):
        response = client.post("/account/password", data={**form, "current": f"guess {number}"})
        assert "This is not your current password" in response.text
    response = client.post("/account/password", data={**form, "current": PASSWORD})
    assert re.search(r'id="field-current-error"[^>]*>Too many attempts', response.text)
    assert log_in(client, "alice", PASSWORD).status_code == 303, "the old password still works"


def test_the_login_page_sends_a_signed_in_user_on(logged_in):
    client = logged_in("alice", "salesperson")
    assert client.get("/login").headers["location"] == "/"
    assert client.get("/login?next=/account/password").headers["location"] == "/account/password"


def test_the_web_section_of_accord_toml_sets_cookies_session_length_and_limits(
    accord_config, accord_db, accord_make_user
):
    from starlette.testclient import TestClient

    from accord.core.runtime import Runtime
    from accord.ui import create_app

    accord_make_user("alice", "salesperson")
    accord_config.write_text(
        accord_config.read_text()
        + "\n[web]\nsecure_cookies = true\nsession_days = 2\nlogin_attempts_per_login = 2\n"
    )
    runtime = Runtime(accord_config)
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    cookie = session_cookie(log_in(client, "alice"))["accord_session"]
    assert cookie["secure"] is True
    assert cookie["max-age"] == str(2 * 24 * 3600)
    client.post("/logout", data={"csrftoken": csrf_token(client)})
    assert log_in(client, "alice", "guess again").status_code == 400  # the second attempt
    assert log_in(client, "alice").status_code == 429  # the third, right password or not
    runtime.close()


def test_a_program_with_an_api_key_acts_as_its_user_without_cookies(
    add_plugin, make_client, accord_make_user, accord_session
):
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from accord.core.db import utcnow
    from accord.core.security import ApiKey, create_api_key

    async def whoami(request):
        return PlainTextResponse(f"{request.state.principal.name} {request.method}")

    add_plugin(routes=[Route("/whoami", whoami, methods=["GET", "POST"])])
    alice = accord_make_user("alice", "salesperson")
    key, token = create_api_key(accord_session, alice, "ERP sync")
    accord_session.commit()
    client = make_client()
    bearer = {"Authorization": f"Bearer {token}"}

    assert client.get("/extra/whoami", headers=bearer).text == "alice GET"
    # No cookie rides along with a key, so there is nothing to forge: no CSRF token needed.
    assert client.post("/extra/whoami", headers=bearer).text == "alice POST"
    assert "accord_session" not in client.cookies

    wrong = client.get("/extra/whoami", headers={"Authorization": f"Bearer {token}x"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer realm="accord"'
    accord_session.get(ApiKey, key.id).revoked_at = utcnow()
    accord_session.commit()
    assert client.get("/extra/whoami", headers=bearer).status_code == 401
