"""Settings: defaults < ``accord.toml`` < ``ACCORD_*`` environment variables.

The kernel's own keys sit at the top of ``accord.toml``; each enabled plugin contributes a
typed section (``[leads]``, set from the environment as ``ACCORD_LEADS__X``). Everything is
validated at start-up, and an error names the key and the file or variable it came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from accord.core.errors import PluginError, SettingsError
from accord.core.numbers import DEFAULT_LOCALE, Numbers, known_locale, numbers_in
from accord.core.plugin import Catalogue, InstalledPlugin, discover_plugins
from accord.core.resolve import resolve

ENV_PREFIX = "ACCORD_"
CONFIG_FILE_NAME = "accord.toml"


class PluginSettings(BaseModel):
    """Base of a plugin's settings section: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSetting(BaseModel):
    """``[roles.NAME]``: a new role, or new permissions for a declared one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = None
    permissions: tuple[str, ...] | None = Field(
        None, description="Replaces the permissions the role's plugin gives it."
    )


class AccessRuleSetting(BaseModel):
    """``[access."RULE"]``: changes a declared access rule, or adds one (model and
    operations are then required)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    operations: tuple[Literal["read", "write", "create", "delete"], ...] | None = None
    role: str | None = None
    scope: str | None = None


class TransitionSetting(BaseModel):
    """``[workflows."WORKFLOW".TRANSITION]``: who performs a step in this company."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    permission: str | None = Field(
        None, description="The permission the step needs instead of its plugin's default."
    )
    allow_self_approval: bool | None = Field(
        None, description="Whether the requester may perform this step on their own request."
    )


class JobsSettings(BaseModel):
    """``[jobs]``: how the job runner polls, leases and retries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_process: bool = Field(
        True, description="Run jobs in a thread of the web app; false when `accord worker` runs."
    )
    poll_seconds: float = Field(1.0, gt=0, le=300, description="Pause when no job is due.")
    lease_seconds: float = Field(
        300, gt=0, description="A claimed job returns to the queue if its worker goes silent."
    )
    backoff_seconds: float = Field(
        10, gt=0, description="First retry delay; doubles with each attempt."
    )
    backoff_max_seconds: float = Field(3600, gt=0, description="Longest retry delay.")
    keep_done_days: int = Field(
        14, ge=0, description="Finished jobs and dispatched events older than this are purged."
    )


class WebSettings(BaseModel):
    """``[web]``: the web app's security policies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secure_cookies: bool = Field(
        False, description="Send cookies over HTTPS only; turn on behind an HTTPS proxy."
    )
    session_days: int = Field(14, ge=1, le=365, description="How long a sign-in lasts.")
    login_attempts_per_login: int = Field(
        5, ge=1, le=1000, description="Sign-in attempts per login and minute."
    )
    login_attempts_per_address: int = Field(
        20, ge=1, le=10000, description="Sign-in attempts per client address and minute."
    )
    import_max_megabytes: int = Field(
        20, ge=1, le=1000, description="The largest file the import pages accept, in MB."
    )


class MailSettings(BaseModel):
    """``[mail]``: how mail leaves. ``console`` (the default) prints each message, ``file``
    writes it into a folder, ``smtp`` sends it to an SMTP server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transport: Literal["console", "file", "smtp"] = Field(
        "console", description="console, file or smtp."
    )
    from_address: str = Field("crm@accord.example", description="The sender's address.")
    from_name: str = Field("Accord", description="The sender's name.")
    folder: Path = Field(
        Path("mail"), description="Where transport = file writes .eml files (beside accord.toml)."
    )
    templates: Path | None = Field(
        None,
        description="A folder of template overrides: <template>.subject.txt, <template>.txt, "
        "<template>.html (beside accord.toml).",
    )
    smtp_host: str = Field("", validate_default=True, description="The SMTP server.")
    smtp_port: int | None = Field(
        None, ge=1, le=65535, description="Default: 25, 587 with starttls, 465 with tls."
    )
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="none, starttls or tls."
    )
    smtp_username: str = Field("", description="Log in as this user; empty: no login.")
    smtp_password: SecretStr = Field(
        SecretStr(""), validate_default=True, description="The SMTP password."
    )
    smtp_timeout: float = Field(30, gt=0, le=600, description="Seconds to wait for the server.")

    @field_validator("from_address")
    @classmethod
    def _check_from_address(cls, value: str) -> str:
        from accord.core.mail import InvalidAddressError, check_address

        try:
            return check_address(value, "from_address").addr_spec
        except InvalidAddressError as error:
            raise ValueError(str(error).removeprefix("from_address: ")) from None

    @field_validator("from_name")
    @classmethod
    def _one_line_name(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("must be one line")
        return value

    @field_validator("smtp_host")
    @classmethod
    def _host_for_smtp(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("transport") == "smtp" and not value.strip():
            raise ValueError('required when transport = "smtp"')
        return value.strip()

    @field_validator("smtp_password")
    @classmethod
    def _password_with_username(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("smtp_username") and not value.get_secret_value():
            raise ValueError("required when smtp_username is set")
        if value.get_secret_value() and not info.data.get("smtp_username"):
            raise ValueError("set smtp_username too, or remove the password")
        return value

    @property
    def port(self) -> int:
        """The SMTP port: the one set, else the usual one for the security chosen."""
        if self.smtp_port is not None:
            return self.smtp_port
        return {"none": 25, "starttls": 587, "tls": 465}[self.smtp_security]


class CompanySettings(BaseModel):
    """``[company]``: how the company works, whatever plugins it runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: str = Field(
        DEFAULT_LOCALE,
        description="How numbers are typed and shown (en: 1,234.50; it_IT: 1.234,50; "
        "de_CH: 1'234.50): forms, record pages, lists and imported files.",
    )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return known_locale(value)

    @property
    def numbers(self) -> Numbers:
        """Parses and shows numbers in ``locale``."""
        return numbers_in(self.locale)


class AccordSettings(BaseSettings):
    """The kernel's own settings, at the top level of ``accord.toml``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    config: Path = Field(description="The accord.toml this came from (ACCORD_CONFIG).")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty means a SQLite file accord.db beside accord.toml.",
    )
    secret_key: SecretStr = Field(description="Signs sessions and tokens; keep it secret.")
    plugins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Plugins to enable; their dependencies are enabled with them."
    )
    trace_hooks: bool = Field(False, description="Log every hook call (pluggy tracing).")
    roles: dict[str, RoleSetting] = Field(
        default_factory=dict, description="Roles to add, or whose permissions to change."
    )
    access: dict[str, AccessRuleSetting] = Field(
        default_factory=dict, description="Access rules to change or add, by name."
    )
    workflows: dict[str, dict[str, TransitionSetting]] = Field(
        default_factory=dict, description="Per workflow and transition: who performs it."
    )
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    company: CompanySettings = Field(default_factory=CompanySettings)

    _catalogue: Catalogue = PrivateAttr(default_factory=dict)
    _enabled: tuple[InstalledPlugin, ...] = PrivateAttr(default=())

    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret_key", "smtp_password"})
    """Keys whose value an error message never shows, at any depth."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init arguments; the environment overrides it.
        return (env_settings, init_settings)

    @field_validator("plugins", mode="before")
    @classmethod
    def _split_plugin_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; expected sqlite:///path/to/file.db or "
                "postgresql://user@host:5432/dbname"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(
                f"database {url.get_backend_name()!r} is not supported; use sqlite or postgresql"
            )
        if url.get_backend_name() == "postgresql" and url.drivername != "postgresql+psycopg":
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _default_database_beside_config(self) -> AccordSettings:
        if not self.database_url:
            path = self.config.parent.resolve() / "accord.db"
            object.__setattr__(self, "database_url", f"sqlite:///{path}")
        return self

    @property
    def catalogue(self) -> Catalogue:
        """Every plugin installed on this machine."""
        return self._catalogue

    @property
    def enabled(self) -> tuple[InstalledPlugin, ...]:
        """The enabled plugins with their dependencies, in load order."""
        return self._enabled

    def section(self, plugin: str) -> PluginSettings:
        """The validated settings section of an enabled plugin."""
        value = getattr(self, plugin, None)
        if not isinstance(value, PluginSettings):
            raise SettingsError(f"plugin {plugin!r} is not enabled or has no settings section")
        return value


class _KernelOnlySettings(AccordSettings):
    """The kernel's keys alone, read first to learn which plugins (and sections) exist."""

    model_config = SettingsConfigDict(**{**AccordSettings.model_config, "extra": "ignore"})


def config_path(explicit: Path | str | None = None) -> Path:
    """Where accord.toml is: the argument, else ACCORD_CONFIG, else the current folder."""
    chosen = explicit or os.environ.get(f"{ENV_PREFIX}CONFIG") or Path.cwd() / CONFIG_FILE_NAME
    return Path(chosen).absolute()


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot be read: {error.strerror}") from None


def load_settings(path: Path | str | None = None) -> AccordSettings:
    """Read, merge and validate the settings of the kernel and of every enabled plugin."""
    file = config_path(path)
    raw = read_config_file(file)
    init = {**raw, "config": file}
    locate = SourceLocator(file, raw)

    # The kernel's keys decide which plugins are enabled, and so which sections exist.
    kernel = _validate(_KernelOnlySettings, init, locate)
    catalogue = discover_plugins()
    try:
        enabled = resolve(catalogue, kernel.plugins)
    except PluginError as error:
        raise SettingsError(f"{locate.where(('plugins',))}: {error}") from None

    fields: dict[str, Any] = {}
    for found in catalogue.values():
        fields[found.name] = (dict[str, Any] | None, None)
    for name, model in _section_models(enabled).items():
        fields[name] = (
            (model, ...) if _has_required(model) else (model, Field(default_factory=model))
        )
    full = create_model("AccordSettings", __base__=AccordSettings, **fields)
    _refuse_unknown_environment(full.model_fields)
    settings: AccordSettings = _validate(full, init, locate)
    settings._catalogue = catalogue
    settings._enabled = tuple(enabled)
    return settings


def _refuse_unknown_environment(fields: Mapping[str, Any]) -> None:
    # pydantic-settings ignores variables it has no field for; a typo such as
    # ACCORD_DATABSE_URL would then pass silently.
    known = {name.upper() for name in fields}
    for name in sorted(os.environ):
        key = name.upper()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].split("__")[0] not in known:
            raise SettingsError(
                f"environment variable {name}: unknown key; remove it or check its spelling"
            )


def _validate(model: type[AccordSettings], init: dict[str, Any], locate: SourceLocator) -> Any:
    try:
        return model(**init)
    except ValidationError as error:
        raise SettingsError(locate.explain(error)) from None


def _section_models(enabled: list[InstalledPlugin]) -> dict[str, type[PluginSettings]]:
    from accord.core.manager import plugin_hook_modules

    models: dict[str, type[PluginSettings]] = {}
    for found, module in plugin_hook_modules(enabled):
        hook = getattr(module, "accord_settings_section", None)
        if hook is None:
            continue
        model = hook()
        if model is None:
            continue
        if not (isinstance(model, type) and issubclass(model, PluginSettings)):
            raise PluginError(
                f"plugin {found.name!r}: accord_settings_section must return a subclass of "
                f"accord.api.PluginSettings, got {model!r}"
            )
        models[found.name] = model
    return models


def _has_required(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


ABSENT = object()


class SourceLocator:
    """Says where a setting came from: the environment, the file, or the default."""

    def __init__(self, file: Path, raw: Mapping[str, Any]) -> None:
        self.file = file
        self.raw = raw

    @staticmethod
    def env_name(key: tuple[str, ...]) -> str:
        return ENV_PREFIX + "__".join(part.upper() for part in key)

    def in_environment(self, key: tuple[str, ...]) -> str | None:
        wanted = self.env_name(key)
        for name in os.environ:
            if name.upper() == wanted:
                return name
        return None

    def file_value(self, key: tuple[str, ...]) -> Any:
        """The value the file gives ``key``, or ``ABSENT``."""
        node: Any = self.raw
        for part in key:
            if not isinstance(node, Mapping) or part not in node:
                return ABSENT
            node = node[part]
        return node

    def source(self, key: tuple[str, ...]) -> str:
        env = self.in_environment(key)
        if env:
            return f"environment {env}"
        # An empty string in the file (database_url = "") asks for the default.
        if self.file_value(key) not in (ABSENT, ""):
            return f"file {self.file}"
        return "default"

    def where(self, key: tuple[str, ...]) -> str:
        env = self.in_environment(key)
        if env:
            return f"environment variable {env}"
        return f"{self.file}, {_toml_key(key)}"

    def explain(self, error: ValidationError) -> str:
        lines = []
        for problem in error.errors():
            key = tuple(str(part) for part in problem["loc"])
            if problem["type"] == "missing":
                lines.append(
                    f"{self.file}, {_toml_key(key)}: required but not set "
                    f"(set it in the file or as {self.env_name(key)})"
                )
                continue
            if problem["type"] == "extra_forbidden":
                message = "unknown key; remove it or check its spelling"
            else:
                message = problem["msg"].removeprefix("Value error, ")
                shown = "input" in problem and not isinstance(problem["input"], dict)
                if shown and not AccordSettings.secret_fields.intersection(key):
                    message += f", got {_masked(key, problem['input'])!r}"
            lines.append(f"{self.where(key)}: {message}")
        return "\n".join(lines)


def _masked(key: tuple[str, ...], value: Any) -> Any:
    if key == ("database_url",) and isinstance(value, str):
        try:
            return make_url(value).render_as_string(hide_password=True)
        except ArgumentError:
            return value
    return value


def _toml_key(key: tuple[str, ...]) -> str:
    if len(key) == 1:
        return key[0]
    return f"[{'.'.join(key[:-1])}] {key[-1]}"
