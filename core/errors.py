"""Errors a user can act on: each one carries a message that says what is wrong and where."""

from __future__ import annotations


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
