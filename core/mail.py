"""Mail: templates that plugins contribute (and an integrator may override), rendered when
``send_mail`` is called and delivered by a job after commit (DESIGN rule 5) through the
transport ``[mail]`` names: printed on the console or written to a folder by default, sent
to an SMTP server by setting."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import smtplib
import ssl
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import jinja2
from sqlalchemy.orm import Session

from accord.core.contributions import MailTemplate
from accord.core.errors import AccordError
from accord.core.events import enqueue
from accord.core.jobs import PermanentJobError

if TYPE_CHECKING:
    from accord.core.runtime import Runtime
    from accord.core.settings import MailSettings

log = logging.getLogger("accord.mail")

DELIVER_JOB = "core.mail.deliver"
"""The job type that delivers a rendered message through the configured transport."""
DELIVERY_ATTEMPTS = 8
"""With the default backoff (10 s, doubling) a message is retried for about 20 minutes."""

Part = Literal["subject", "text", "html"]
OVERRIDE_SUFFIXES: dict[str, Part] = {".subject.txt": "subject", ".txt": "text", ".html": "html"}


class MailError(AccordError):
    """Mail cannot be sent as asked: a bad address, template or setting."""


class MailTemplateError(MailError):
    """A template is unknown, does not compile, or needs a variable the context lacks."""


class InvalidAddressError(MailError):
    """An e-mail address is malformed."""


class MailDeliveryError(MailError):
    """The transport could not deliver (the job retries it)."""


class MailRefusedError(MailDeliveryError, PermanentJobError):
    """The server refused the message for good (a 5xx reply to its sender, recipients or
    content): the delivery job is dead at once, with the server's reply as its error."""


# --- addresses ------------------------------------------------------------------------------

_NAMED = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<address>[^<>]*)>\s*$")


def check_address(value: str, where: str = "address") -> Address:
    """``value`` (``ada@example.com`` or ``Ada Lovelace <ada@example.com>``) as a header
    address, normalised; an InvalidAddressError names it and says what is wrong."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str):
        raise InvalidAddressError(f"{where}: expected an e-mail address, got {value!r}")
    named = _NAMED.match(value)
    name, spec = (named["name"].strip('"').strip(), named["address"]) if named else ("", value)
    try:
        valid = validate_email(spec.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidAddressError(
            f"{where}: {value!r} is not a valid e-mail address: {error}"
        ) from None
    if any(char in name for char in "\r\n"):
        raise InvalidAddressError(f"{where}: {value!r}: the name may not span lines")
    return Address(display_name=name, addr_spec=valid.normalized)


def _addresses(value: str | Sequence[str], where: str) -> list[Address]:
    values = [value] if isinstance(value, str) else list(value)
    if not values:
        raise InvalidAddressError(f"{where}: no address given")
    return [check_address(item, where) for item in values]


# --- templates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class _Compiled:
    name: str
    origin: str
    parts: Mapping[Part, jinja2.Template]


class MailTemplates:
    """The templates of the enabled plugins, with the integrator's overrides applied,
    compiled once: a syntax error or a stray override file fails at start-up."""

    def __init__(
        self, contributed: Sequence[tuple[str, MailTemplate]], overrides: Path | None = None
    ) -> None:
        self._text = jinja2.Environment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._html = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)
        sources: dict[str, dict[Part, tuple[str, str]]] = {}
        for owner, template in contributed:
            if not isinstance(template, MailTemplate):
                raise MailTemplateError(
                    f"plugin {owner!r}: accord_mail_templates must return MailTemplate "
                    f"records, got {template!r}"
                )
            origin = f"mail template {template.name!r} of plugin {owner!r}"
            parts: dict[Part, tuple[str, str]] = {
                "subject": (template.subject, origin),
                "text": (template.text, origin),
            }
            if template.html is not None:
                parts["html"] = (template.html, origin)
            sources[template.name] = parts
        if overrides is not None:
            self._read_overrides(overrides, sources)
        self._compiled = {
            name: _Compiled(
                name,
                parts["text"][1],
                {part: self._compile(part, *source) for part, source in parts.items()},
            )
            for name, parts in sources.items()
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._compiled)

    def _compile(self, part: Part, source: str, origin: str) -> jinja2.Template:
        environment = self._html if part == "html" else self._text
        try:
            return environment.from_string(source)
        except jinja2.TemplateSyntaxError as error:
            raise MailTemplateError(
                f"{origin}, {part}, line {error.lineno}: {error.message}"
            ) from None

    @staticmethod
    def _read_overrides(folder: Path, sources: dict[str, dict[Part, tuple[str, str]]]) -> None:
        if not folder.is_dir():
            raise MailTemplateError(
                f"[mail] templates: {folder} is not a folder; create it or remove the setting"
            )
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            suffix = next((s for s in OVERRIDE_SUFFIXES if path.name.endswith(s)), None)
            if suffix is None or not path.is_file():
                raise MailTemplateError(
                    f"{path}: not a mail template override; name files <template>.subject.txt, "
                    "<template>.txt or <template>.html"
                )
            name = path.name[: -len(suffix)]
            if name not in sources:
                known = ", ".join(sorted(sources)) or "none"
                raise MailTemplateError(
                    f"{path}: no enabled plugin has a mail template {name!r} (known: {known})"
                )
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise MailTemplateError(f"{path}: cannot be read: {error}") from None
            sources[name][OVERRIDE_SUFFIXES[suffix]] = (text, str(path))

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMail:
        compiled = self._compiled.get(name)
        if compiled is None:
            known = ", ".join(self.names) or "none"
            raise MailTemplateError(
                f"no enabled plugin has a mail template {name!r} (known: {known})"
            )
        rendered: dict[Part, str] = {}
        for part, template in compiled.parts.items():
            try:
                rendered[part] = template.render(context)
            except jinja2.UndefinedError as error:
                raise MailTemplateError(
                    f"mail template {name!r}, {part}: {error.message}; pass it in the context"
                ) from None
            except jinja2.TemplateError as error:
                raise MailTemplateError(f"mail template {name!r}, {part}: {error}") from None
        # A subject is one header line, whatever the template's line breaks.
        subject = " ".join(rendered["subject"].split())
        return RenderedMail(subject, rendered["text"], rendered.get("html"))


# --- sending --------------------------------------------------------------------------------


def runtime_of(session: Session) -> Runtime:
    from accord.core.runtime import RUNTIME_KEY, Runtime

    runtime = session.info.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise MailError(
            "this session belongs to no Runtime; open it with runtime.db.session(...) so that "
            "mail knows its settings and templates"
        )
    return runtime


def message_id_for(key: str, from_address: str) -> str:
    """A Message-ID that only depends on the delivery's idempotency key: a retried delivery
    carries the same one, and the receiving side can recognise it."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = from_address.rpartition("@")[2] or "accord.invalid"
    return f"<{digest}@{domain}>"


def send_mail(
    session: Session,
    template: str | MailTemplate,
    to: str | Sequence[str],
    context: Mapping[str, Any],
    *,
    key: str | None = None,
    reply_to: str | Sequence[str] | None = None,
) -> str:
    """Render ``template`` (a template's name, or the record a plugin contributes) with
    ``context`` now, and deliver it to ``to`` after the caller's transaction commits.

    Errors surface here, in the caller: an invalid address, an unknown template or a
    variable the template needs and ``context`` lacks. A rolled-back transaction sends
    nothing. ``key`` makes the delivery idempotent: a second call with the same key queues
    nothing. Returns the message's Message-ID (the same for the same key)."""
    runtime = runtime_of(session)
    settings = runtime.settings.mail
    name = template.name if isinstance(template, MailTemplate) else template
    recipients = _addresses(to, f"mail {name!r}, to")
    answer_to = _addresses(reply_to, f"mail {name!r}, reply_to") if reply_to else []
    rendered = runtime.mail.render(name, context)
    job_key = f"mail:{key}" if key else f"mail:{name}:{uuid.uuid4().hex}"
    message_id = message_id_for(job_key, settings.from_address)
    enqueue(
        session,
        DELIVER_JOB,
        {
            "template": name,
            "to": [str(address) for address in recipients],
            "reply_to": [str(address) for address in answer_to],
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "message_id": message_id,
            "date": format_datetime(dt.datetime.now(dt.UTC)),
        },
        key=job_key,
        max_attempts=DELIVERY_ATTEMPTS,
    )
    return message_id


def build_message(settings: MailSettings, payload: Mapping[str, Any]) -> EmailMessage:
    """The message of a queued delivery, from the ``[mail]`` sender of now."""
    message = EmailMessage()
    message["From"] = Address(display_name=settings.from_name, addr_spec=settings.from_address)
    message["To"] = ", ".join(payload["to"])
    if payload.get("reply_to"):
        message["Reply-To"] = ", ".join(payload["reply_to"])
    message["Subject"] = payload["subject"]
    message["Date"] = payload["date"]
    message["Message-ID"] = payload["message_id"]
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


def deliver(session: Session, payload: dict[str, Any]) -> None:
    """The job that sends a queued message (its failures are retried by the job runner)."""
    runtime = runtime_of(session)
    message = build_message(runtime.settings.mail, payload)
    transport_for(runtime).send(message)
    log.info("mail %s (%s) sent to %s", payload["message_id"], payload["template"], message["To"])


# --- transports -----------------------------------------------------------------------------


class ConsoleTransport:
    """Prints each message: the default, so nothing leaves a machine that was not set up."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, message: EmailMessage) -> None:
        stream = self.stream or sys.stdout
        stream.write(f"{message.as_string()}\n{'-' * 79}\n")
        stream.flush()


class FileTransport:
    """Writes each message as an .eml file into a folder; a retry rewrites the same file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: EmailMessage) -> Path:
        digest = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:16]
        return self.folder / f"{digest}.eml"

    def send(self, message: EmailMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.path_for(message)
            partial = path.with_suffix(".eml.partial")
            partial.write_bytes(message.as_bytes())
            partial.replace(path)
        except OSError as error:
            raise MailDeliveryError(f"[mail] folder {self.folder}: {error}") from None


class SMTPTransport:
    """Sends through an SMTP server: plain, STARTTLS or TLS, with a login when set."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @property
    def where(self) -> str:
        return f"SMTP server {self.settings.smtp_host}:{self.settings.port}"

    def send(self, message: EmailMessage) -> None:
        settings = self.settings
        try:
            with self._connect() as smtp:
                if settings.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                refused = self._send(smtp, message)
        except smtplib.SMTPAuthenticationError as error:
            raise MailDeliveryError(
                f"{self.where} refused the login of [mail] smtp_username "
                f"{settings.smtp_username!r}: {_reply(error)}"
            ) from None
        except smtplib.SMTPResponseException as error:
            raise MailDeliveryError(f"{self.where} answered {_reply(error)}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailDeliveryError(f"{self.where}: {error or type(error).__name__}") from None
        if refused:
            # The others received it; sending again would give them a second copy.
            log.warning("mail %s: %s refused %s", message["Message-ID"], self.where, refused)

    def _send(self, smtp: smtplib.SMTP, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """The message's envelope and content, once connected. A 5xx reply here refuses this
        message for good (RFC 5321: the same request would fail again), and the delivery
        is not retried; a refused connection, greeting, STARTTLS or login is the setup's,
        and is retried like a 4xx reply, so the mail goes out once the setup is mended."""
        try:
            return smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            refused_all = ", ".join(f"{to} ({_reply(why)})" for to, why in error.recipients.items())
            # For good only when every refusal is: a 4xx for one of them may pass later.
            permanent = all(_permanent(code) for code, _ in error.recipients.values())
            raise (MailRefusedError if permanent else MailDeliveryError)(
                f"{self.where} refused every recipient: {refused_all}"
            ) from None
        except smtplib.SMTPHeloError:
            raise
        except smtplib.SMTPResponseException as error:  # to MAIL FROM or DATA
            if _permanent(error.smtp_code):
                raise MailRefusedError(f"{self.where} answered {_reply(error)}") from None
            raise

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.smtp_security == "tls":
            return smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.port,
                timeout=settings.smtp_timeout,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(settings.smtp_host, settings.port, timeout=settings.smtp_timeout)


def _permanent(code: int) -> bool:
    """Whether an SMTP reply code is a permanent negative completion (RFC 5321, 5yz)."""
    return 500 <= code <= 599


def _reply(error: Any) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        code, text = error.smtp_code, error.smtp_error
    else:
        code, text = error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}"


Transport = ConsoleTransport | FileTransport | SMTPTransport


def transport_for(runtime: Runtime) -> Transport:
    settings = runtime.settings.mail
    if settings.transport == "smtp":
        return SMTPTransport(settings)
    if settings.transport == "file":
        return FileTransport(runtime.settings.config.parent / settings.folder)
    return ConsoleTransport()


def load_templates(runtime: Runtime) -> MailTemplates:
    """The runtime's templates: the enabled plugins' with ``[mail] templates`` applied."""
    folder = runtime.settings.mail.templates
    return MailTemplates(
        runtime.pm.collect_with_owner("accord_mail_templates"),
        runtime.settings.config.parent / folder if folder is not None else None,
    )
