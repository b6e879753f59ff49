"""The kernel's public surface for plugins: what a plugin (built-in or a partner's add-on)
may import. Everything else in ``accord.core`` may change without notice; the import
contracts in CI keep plugins on this side of the line."""

import click

from accord.core.access import AccessDeniedError, Principal, principal_of
from accord.core.activities import Activity, ActivityKind, log_activity, timeline
from accord.core.contributions import (
    AccessRule,
    DashboardWidget,
    Event,
    EventSubscriber,
    FormField,
    FormSection,
    FormValidator,
    Guard,
    InitialValues,
    JobType,
    ListColumn,
    ListFilter,
    MailTemplate,
    MenuItem,
    ModelView,
    Permission,
    RecordPanel,
    RenderContext,
    Role,
    Schedule,
    Scope,
    SearchHit,
    SearchProvider,
    StaticFolder,
    Transition,
    Workflow,
)
from accord.core.db import (
    Base,
    TimestampMixin,
    UTCDateTime,
    created_at,
    intpk,
    str_enum,
    utcnow,
)
from accord.core.demo import DemoContext
from accord.core.errors import AccordError
from accord.core.events import emit, enqueue
from accord.core.hookspecs import hookimpl
from accord.core.importing import (
    Importer,
    ImportField,
    ImportReport,
    ImportRow,
    MappingError,
    Refused,
    RowError,
    Sheet,
    UnreadableFileError,
    Written,
    insert_records,
    read_sheet,
    read_sheet_file,
    run_import,
)
from accord.core.importing import parsers as import_parsers
from accord.core.mail import send_mail
from accord.core.partners import Address, AddressKind, Partner, PartnerKind
from accord.core.plugin import Plugin
from accord.core.runtime import Runtime
from accord.core.security import Team, TeamKind, User
from accord.core.settings import PluginSettings
from accord.core.workflow import (
    Available,
    InvalidTransitionError,
    MissingInputError,
    TransitionBlockedError,
    TransitionConflictError,
    TransitionError,
    TransitionNotAllowedError,
    TransitionRecord,
    WorkflowEngine,
    WorkflowMixin,
)

pass_runtime = click.make_pass_decorator(Runtime)
"""Decorates a plugin's click command so it receives the Runtime: settings, plugin manager
and database of the configuration `accord` was started with."""

__all__ = [
    "AccessDeniedError",
    "AccessRule",
    "AccordError",
    "Activity",
    "ActivityKind",
    "Address",
    "AddressKind",
    "Available",
    "Base",
    "DashboardWidget",
    "DemoContext",
    "Event",
    "EventSubscriber",
    "FormField",
    "FormSection",
    "FormValidator",
    "Guard",
    "ImportField",
    "ImportReport",
    "ImportRow",
    "Importer",
    "InitialValues",
    "InvalidTransitionError",
    "JobType",
    "ListColumn",
    "ListFilter",
    "MailTemplate",
    "MappingError",
    "MenuItem",
    "MissingInputError",
    "ModelView",
    "Partner",
    "PartnerKind",
    "Permission",
    "Plugin",
    "PluginSettings",
    "Principal",
    "RecordPanel",
    "Refused",
    "RenderContext",
    "Role",
    "RowError",
    "Runtime",
    "Schedule",
    "Scope",
    "SearchHit",
    "SearchProvider",
    "Sheet",
    "StaticFolder",
    "Team",
    "TeamKind",
    "TimestampMixin",
    "Transition",
    "TransitionBlockedError",
    "TransitionConflictError",
    "TransitionError",
    "TransitionNotAllowedError",
    "TransitionRecord",
    "UTCDateTime",
    "UnreadableFileError",
    "User",
    "Workflow",
    "WorkflowEngine",
    "WorkflowMixin",
    "Written",
    "created_at",
    "emit",
    "enqueue",
    "hookimpl",
    "import_parsers",
    "insert_records",
    "intpk",
    "log_activity",
    "pass_runtime",
    "principal_of",
    "read_sheet",
    "read_sheet_file",
    "run_import",
    "send_mail",
    "str_enum",
    "timeline",
    "utcnow",
]
