"""Accord, a pluggable CRM. Plugins import ``accord.api``; add-on tests use ``accord.testing``."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("accord-crm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
