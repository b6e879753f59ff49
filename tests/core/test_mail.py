"""Mail from a plugin: rendered when sent, delivered by the job runner after commit through
a real SMTP exchange (or the console, or a folder), never after a rollback, retried once
the server takes it again and then received once, dead at once when the server refuses it
for good; bad addresses, templates and settings are refused with a message naming them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import func, select

from accord.api import MailTemplate, hookimpl, send_mail
from accord.core.access import Principal
from accord.core.errors import SettingsError
from accord.core.events import Job, JobState
from accord.core.jobs import JobRunner
from accord.core.mail import InvalidAddressError, MailError, MailTemplateError
from accord.core.runtime import Runtime
from accord.core.settings import load_settings
from accord.testing import SMTPServer, run_jobs

TEST = Principal.system("test")
sqlite_only = pytest.mark.parametrize("accord_backend", ["sqlite"])

WELCOME = MailTemplate(
    "postcards.welcome",
    subject="Welcome aboard,\n{{ customer }}",
    text="Dear {{ customer }},\nyour account manager is {{ manager }}.\n",
    html="<p>Dear {{ customer }},</p><p>your account manager is {{ manager }}.</p>",
)
PLAIN = MailTemplate("postcards.plain", subject="Hi {{ name }}", text="Just text, {{ name }}.")


class Postcards:
    """A plugin that sends mail, registered on the test's plugin manager."""

    @hookimpl
    def accord_mail_templates(self) -> list[MailTemplate]:
        return [WELCOME, PLAIN]


@pytest.fixture
def accord_extra_settings(smtp_server: SMTPServer) -> dict[str, Any]:
    # The documented way to point a test runtime's mail at the test's SMTP server.
    return smtp_server.settings


@pytest.fixture
def runtime(accord_runtime: Runtime, accord_db: Any) -> Runtime:
    accord_runtime.pm.register(Postcards(), name="postcards")
    return accord_runtime


def welcome(session: Any, to: str = "ada@example.com", **options: Any) -> str:
    context = {"customer": "Ada & Co <Ltd>", "manager": "Mia Conti"}
    return send_mail(session, "postcards.welcome", to, context, **options)


def jobs(runtime: Runtime) -> list[Job]:
    with runtime.db.session(TEST) as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def test_mail_is_delivered_over_smtp_after_commit_by_the_job_runner(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    with runtime.db.session(TEST) as session:
        message_id = welcome(
            session, "Ada Lovelace <ada@example.com>", reply_to="sales@accord.example"
        )
        assert smtp_server.messages == []  # nothing leaves before the commit

    assert smtp_server.messages == []  # nor before the job runs
    assert run_jobs(runtime) == 1

    [received] = smtp_server.messages
    assert received["To"] == "Ada Lovelace <ada@example.com>"
    assert received["From"] == "Accord <crm@accord.example>"
    assert received["Reply-To"] == "sales@accord.example"
    assert received["Subject"] == "Welcome aboard, Ada & Co <Ltd>"
    assert received["Message-ID"] == message_id
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None
    assert html is not None
    # Only the html part is escaped.
    assert text.get_content() == "Dear Ada & Co <Ltd>,\nyour account manager is Mia Conti.\n"
    assert "<p>Dear Ada &amp; Co &lt;Ltd&gt;,</p>" in html.get_content()
    assert smtp_server.envelopes == [("crm@accord.example", ["ada@example.com"])]
    assert [job.state for job in jobs(runtime)] == [JobState.DONE]


def test_a_text_only_template_sends_a_plain_message(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    with runtime.db.session(TEST) as session:
        send_mail(session, PLAIN, ["bo@example.com", "cy@example.org"], {"name": "Bo"})
    run_jobs(runtime)

    [received] = smtp_server.messages
    assert received.get_content_type() == "text/plain"
    assert received["To"] == "bo@example.com, cy@example.org"
    assert received.get_content() == "Just text, Bo.\n"


def test_nothing_is_sent_when_the_transaction_rolls_back(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    def save_order() -> None:
        with runtime.db.session(TEST) as session:
            welcome(session)
            raise RuntimeError("the order could not be saved")

    with pytest.raises(RuntimeError):
        save_order()

    assert run_jobs(runtime) == 0
    assert smtp_server.messages == []
    assert jobs(runtime) == []


def test_a_refused_delivery_is_retried_and_arrives_once(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    smtp_server.refuse_next()
    with runtime.db.session(TEST) as session:
        message_id = welcome(session, key="welcome:customer:7")
    runner = JobRunner(runtime, backoff_seconds=60)

    assert runner.run_pending() == 1
    assert smtp_server.messages == []
    [job] = jobs(runtime)
    assert job.state == JobState.PENDING
    assert "451 4.3.0 Try again later" in (job.last_error or "")
    assert runner.run_pending() == 0  # not before its retry wait

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    assert runner.run_pending(now=later) == 1
    assert runner.run_pending(now=later + dt.timedelta(hours=1)) == 0
    assert [message["Message-ID"] for message in smtp_server.messages] == [message_id]
    assert [job.state for job in jobs(runtime)] == [JobState.DONE]


def test_an_address_the_server_refuses_for_good_is_dead_at_once_with_its_reply(
    runtime: Runtime, smtp_server: SMTPServer, accord_cli: Callable[..., Result]
) -> None:
    smtp_server.reject("gone@example.com")
    with runtime.db.session(TEST) as session:
        welcome(session, to="gone@example.com")
    runner = JobRunner(runtime, backoff_seconds=60)

    assert runner.run_pending() == 1
    [job] = jobs(runtime)
    assert (job.state, job.attempts) == (JobState.DEAD, 1)  # not retried 8 times
    reply = "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"
    assert f"refused every recipient: gone@example.com ({reply})" in (job.last_error or "")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert runner.run_pending(now=later) == 0
    assert smtp_server.messages == []
    failed = accord_cli("jobs", "failed")
    assert reply in failed.output


def test_a_message_refused_for_good_at_data_is_dead_at_once(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    smtp_server.refuse_next(reply="554 5.6.0 Message content rejected")
    with runtime.db.session(TEST) as session:
        welcome(session)
    assert JobRunner(runtime).run_pending() == 1
    [job] = jobs(runtime)
    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    assert "answered 554 5.6.0 Message content rejected" in (job.last_error or "")


def test_one_refused_recipient_does_not_keep_the_others_from_their_copy(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    smtp_server.reject("gone@example.com")
    with runtime.db.session(TEST) as session:
        welcome(session, to=["gone@example.com", "ada@example.com"])
    assert JobRunner(runtime).run_pending() == 1
    assert [job.state for job in jobs(runtime)] == [JobState.DONE]
    assert smtp_server.envelopes == [("crm@accord.example", ["ada@example.com"])]


def test_the_same_key_sends_once_with_a_stable_message_id(
    runtime: Runtime, smtp_server: SMTPServer
) -> None:
    with runtime.db.session(TEST) as session:
        first = welcome(session, key="welcome:customer:7")
    with runtime.db.session(TEST) as session:
        second = welcome(session, key="welcome:customer:7")
        other = welcome(session, key="welcome:customer:8")
    run_jobs(runtime)

    assert first == second != other
    assert sorted(message["Message-ID"] for message in smtp_server.messages) == sorted(
        [first, other]
    )


@sqlite_only
@pytest.mark.parametrize(
    ("to", "problem"),
    [
        ("ada@@example.com", "'ada@@example.com' is not a valid e-mail address"),
        ("Ada <ada.example.com>", "'Ada <ada.example.com>' is not a valid e-mail address"),
        ([], "no address given"),
    ],
)
def test_a_bad_address_is_refused_naming_it_and_nothing_is_queued(
    runtime: Runtime, to: Any, problem: str
) -> None:
    with runtime.db.session(TEST) as session:
        with pytest.raises(InvalidAddressError) as error:
            welcome(session, ["ok@example.com", to] if isinstance(to, str) else to)
        with pytest.raises(InvalidAddressError, match="reply_to: 'nobody' is not a valid"):
            welcome(session, reply_to="nobody")

    assert "mail 'postcards.welcome', to" in str(error.value)
    assert problem in str(error.value)
    assert jobs(runtime) == []


@sqlite_only
def test_a_missing_variable_names_the_template_and_the_variable(runtime: Runtime) -> None:
    with runtime.db.session(TEST) as session, pytest.raises(MailTemplateError) as error:
        send_mail(session, "postcards.welcome", "ada@example.com", {"customer": "Ada"})

    assert str(error.value) == (
        "mail template 'postcards.welcome', text: 'manager' is undefined; pass it in the context"
    )
    assert jobs(runtime) == []


@sqlite_only
def test_an_unknown_template_is_refused_naming_the_known_ones(runtime: Runtime) -> None:
    with runtime.db.session(TEST) as session, pytest.raises(MailTemplateError) as error:
        send_mail(session, "postcards.welcom", "ada@example.com", {})

    assert "no enabled plugin has a mail template 'postcards.welcom'" in str(error.value)
    assert "postcards.welcome" in str(error.value)


@sqlite_only
def test_a_template_that_does_not_compile_fails_naming_plugin_and_line(
    accord_runtime: Runtime,
) -> None:
    class Broken:
        @hookimpl
        def accord_mail_templates(self) -> list[MailTemplate]:
            return [MailTemplate("broken.note", subject="Hi", text="line one\n{% if x %}\n")]

    accord_runtime.pm.register(Broken(), name="broken")

    with pytest.raises(MailTemplateError) as error:
        accord_runtime.mail  # noqa: B018 (what the web app and the worker touch at start-up)

    assert str(error.value).startswith(
        "mail template 'broken.note' of plugin 'broken', text, line 2:"
    )


@sqlite_only
def test_a_session_outside_a_runtime_cannot_send(accord_db: Any) -> None:
    from accord.core.db import Database

    other = Database(accord_db.url)
    try:
        with other.session(TEST) as session, pytest.raises(MailError, match="no Runtime"):
            welcome(session)
    finally:
        other.dispose()


# --- overrides ------------------------------------------------------------------------------


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    folder = tmp_path / "mail-templates"
    folder.mkdir()
    return folder


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{"mail": {"templates": "mail-templates"}}])
def test_the_integrator_overrides_a_template_by_its_name(
    runtime: Runtime, overrides: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (overrides / "postcards.welcome.subject.txt").write_text("Benvenuti, {{ customer }}!")
    (overrides / "postcards.plain.html").write_text("<b>{{ name }}</b>")

    with runtime.db.session(TEST) as session:
        welcome(session)
        send_mail(session, PLAIN, "bo@example.com", {"name": "Bo & Co"})
    run_jobs(runtime)

    printed = capsys.readouterr().out
    assert "Subject: Benvenuti, Ada & Co <Ltd>!" in printed
    assert "<b>Bo &amp; Co</b>" in printed  # the override added an html part


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{"mail": {"templates": "mail-templates"}}])
@pytest.mark.parametrize(
    ("file", "problem"),
    [
        ("postcards.welcom.txt", "no enabled plugin has a mail template 'postcards.welcom'"),
        ("postcards.welcome.md", "not a mail template override; name files"),
        ("postcards.welcome.html", "postcards.welcome.html, html, line 1: unexpected '}'"),
    ],
)
def test_a_wrong_override_file_fails_at_start_up_naming_it(
    runtime: Runtime, overrides: Path, file: str, problem: str
) -> None:
    (overrides / file).write_text("{{ customer }" if file.endswith(".html") else "x")

    with pytest.raises(MailTemplateError) as error:
        runtime.mail  # noqa: B018

    assert problem in str(error.value)
    assert file in str(error.value)


# --- transports -----------------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{}])
def test_the_console_transport_is_the_default_and_prints_the_message(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runtime.settings.mail.transport == "console"
    with runtime.db.session(TEST) as session:
        welcome(session)
    capsys.readouterr()
    run_jobs(runtime)

    printed = capsys.readouterr().out
    assert "To: ada@example.com" in printed
    assert "Subject: Welcome aboard, Ada & Co <Ltd>" in printed


@sqlite_only
@pytest.mark.parametrize(
    "accord_extra_settings", [{"mail": {"transport": "file", "folder": "outbox"}}]
)
def test_the_file_transport_writes_one_eml_file_per_message(runtime: Runtime) -> None:
    with runtime.db.session(TEST) as session:
        first = welcome(session)
        welcome(session, "bo@example.com")
    run_jobs(runtime)

    import email
    import email.policy

    folder = runtime.settings.config.parent / "outbox"
    files = sorted(folder.glob("*.eml"))
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files
    ]
    assert len(files) == 2
    assert first in [message["Message-ID"] for message in messages]
    assert sorted(message["To"] for message in messages) == ["ada@example.com", "bo@example.com"]
    assert all(isinstance(message, EmailMessage) for message in messages)


# --- settings -------------------------------------------------------------------------------


def write(config: Path, mail: str) -> Path:
    config.write_text(config.read_text() + "\n[mail]\n" + mail)
    return config


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{}])
@pytest.mark.parametrize(
    ("mail", "problem"),
    [
        ('transport = "smtp"\n', '[mail] smtp_host: required when transport = "smtp"'),
        ('transport = "pigeon"\n', "[mail] transport: Input should be 'console', 'file' or"),
        ('from_address = "crm@"\n', "[mail] from_address: 'crm@' is not a valid e-mail address"),
        ('smtp_security = "ssl"\n', "[mail] smtp_security: Input should be 'none', 'starttls'"),
        ("smtp_port = 70000\n", "[mail] smtp_port: Input should be less than or equal to 65535"),
        ('smtp_username = "crm"\n', "[mail] smtp_password: required when smtp_username is set"),
        ('smtp_host = "mail.example.com"\nsmtp_hots = 1\n', "[mail] smtp_hots: unknown key"),
    ],
)
def test_bad_mail_settings_fail_at_start_up_naming_the_key(
    accord_config: Path, mail: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(write(accord_config, mail))

    assert problem in str(error.value)
    assert str(accord_config) in str(error.value)


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{}])
def test_the_smtp_password_is_never_shown(
    accord_config: Path, accord_cli: Callable[..., Result]
) -> None:
    write(accord_config, 'smtp_password = "hunter2-secret"\n')
    with pytest.raises(SettingsError) as error:
        load_settings(accord_config)
    assert "set smtp_username too" in str(error.value)
    assert "hunter2" not in str(error.value)

    accord_config.write_text(
        accord_config.read_text().replace("[mail]\n", '[mail]\nsmtp_username = "crm"\n')
    )
    shown = accord_cli("config", "show")
    assert shown.exit_code == 0, shown.output
    assert 'smtp_password = "********"' in shown.output
    assert "hunter2" not in shown.output


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{}])
def test_smtp_port_follows_the_security_unless_set(accord_config: Path) -> None:
    settings = load_settings(write(accord_config, 'smtp_security = "tls"\n'))
    assert settings.mail.port == 465
    assert settings.mail.transport == "console"


# --- the command ----------------------------------------------------------------------------


@sqlite_only
def test_send_test_command_sends_through_the_configured_server(
    accord_cli: Callable[..., Result], smtp_server: SMTPServer
) -> None:
    result = accord_cli("mail", "send-test", "ops@example.com")

    assert result.exit_code == 0, result.output
    assert f"test message to ops@example.com sent through 127.0.0.1:{smtp_server.port}" in (
        result.output
    )
    [received] = smtp_server.messages
    assert received["To"] == "ops@example.com"
    assert received["Subject"] == "Accord test message from Accord"


@sqlite_only
def test_send_test_command_says_why_it_could_not_send(
    accord_cli: Callable[..., Result], smtp_server: SMTPServer
) -> None:
    smtp_server.refuse_next(reply="550 5.7.1 Relaying denied")
    refused = accord_cli("mail", "send-test", "ops@example.com")
    bad = accord_cli("mail", "send-test", "ops.example.com")

    assert refused.exit_code == 1
    assert f"SMTP server 127.0.0.1:{smtp_server.port} answered 550 5.7.1 Relaying denied" in (
        refused.output
    )
    assert bad.exit_code == 1
    assert "ADDRESS: 'ops.example.com' is not a valid e-mail address" in bad.output
    assert smtp_server.messages == []


@sqlite_only
@pytest.mark.parametrize("accord_extra_settings", [{"mail": {"transport": "smtp"}}])
def test_send_test_command_names_an_unreachable_server(
    accord_config: Path, accord_cli: Callable[..., Result]
) -> None:
    from accord.testing import _free_port

    port = _free_port("127.0.0.1")  # nothing listens there
    accord_config.write_text(
        accord_config.read_text().replace(
            "[mail]\n",
            f'[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_security = "none"\n',
        )
    )
    result = accord_cli("mail", "send-test", "ops@example.com")

    assert result.exit_code == 1
    assert f"Error: SMTP server 127.0.0.1:{port}: " in result.output
    assert "refused" in result.output.lower()


@sqlite_only
def test_templates_command_lists_the_names_to_override(
    accord_cli: Callable[..., Result],
) -> None:
    result = accord_cli("mail", "templates")

    assert result.exit_code == 0, result.output
    assert "core.test_message  (core: subject, text, html)" in result.output


def test_delivered_jobs_are_counted_once(runtime: Runtime, smtp_server: SMTPServer) -> None:
    with runtime.db.session(TEST) as session:
        for number in range(3):
            welcome(session, f"customer{number}@example.com")
    run_jobs(runtime)
    run_jobs(runtime)

    with runtime.db.session(TEST) as session:
        done = session.scalar(select(func.count()).where(Job.state == JobState.DONE))
    assert done == 3
    assert len(smtp_server.messages) == 3
