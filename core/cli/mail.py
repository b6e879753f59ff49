"""`accord mail ...`: check the ``[mail]`` settings by sending a message now, and list the
templates an integrator may override."""

from __future__ import annotations

import click

from accord.core.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)


@click.group()
def mail() -> None:
    """Mail: the [mail] settings and the templates plugins send."""


@mail.command("send-test")
@click.argument("address")
@pass_runtime
def send_test(runtime: Runtime, address: str) -> None:
    """Send a test message to ADDRESS now, through the transport [mail] sets up (not
    through the job queue), and say where it went or why it could not."""
    import datetime as dt
    import uuid
    from email.utils import format_datetime

    from accord.core.defaults import TEST_MESSAGE
    from accord.core.mail import build_message, check_address, message_id_for, transport_for

    settings = runtime.settings.mail
    to = check_address(address, "ADDRESS")
    rendered = runtime.mail.render(
        TEST_MESSAGE,
        {
            "sender": settings.from_name,
            "config": str(runtime.settings.config),
            "transport": settings.transport,
            "to": to.addr_spec,
        },
    )
    message = build_message(
        settings,
        {
            "to": [str(to)],
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "date": format_datetime(dt.datetime.now(dt.UTC)),
            "message_id": message_id_for(f"test:{uuid.uuid4().hex}", settings.from_address),
        },
    )
    transport = transport_for(runtime)
    transport.send(message)
    where = {
        "console": "printed above (transport = console)",
        "file": f"written to {runtime.settings.config.parent / settings.folder}",
        "smtp": f"sent through {settings.smtp_host}:{settings.port}",
    }[settings.transport]
    click.echo(f"test message to {to.addr_spec} {where}")


@mail.command("templates")
@pass_runtime
def templates(runtime: Runtime) -> None:
    """The mail templates of the enabled plugins: the names override files use."""
    for owner, template in runtime.pm.collect_with_owner("accord_mail_templates"):
        parts = "subject, text" + (", html" if template.html is not None else "")
        click.echo(f"{template.name}  ({owner}: {parts})")


COMMANDS = [mail]
