"""Errors a user can act on: each one carries a message that says what is wrong and where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class AccordError(Exception):
    """An error whose message is written for the person running Accord.

    The CLI prints the message on one line and exits non-zero; it never shows a traceback
    for these.
    """


class SettingsError(AccordError):
    """A setting is unknown, of the wrong type, missing or invalid."""


class PluginError(AccordError):
    """A plugin is malformed, missing, in conflict or in a dependency cycle."""


class DatabaseError(AccordError):
    """The database cannot be reached or is not in the state the command needs."""


class RecordInputError(AccordError, ValueError):
    """Values a plugin's service refuses for a record, said to the user: ``problems`` maps
    field names to what is wrong with each (``{"email": "already the e-mail of Acme"}``);
    a name that is no field of the form, such as ``""`` for the record as a whole, is shown
    above the form. ``links`` are ``(label, path)`` pairs shown with the problems: the
    existing record a new one would duplicate. A form that saves through a service
    (``ModelView.create``/``update``) shows them with 422 and writes nothing."""

    def __init__(
        self, problems: Mapping[str, str], *, links: Sequence[tuple[str, str]] = ()
    ) -> None:
        if not problems:
            raise ValueError("RecordInputError needs at least one problem")
        said = (f"{name}: {message}" if name else message for name, message in problems.items())
        super().__init__("; ".join(said))
        self.problems = dict(problems)
        self.links = tuple(links)
