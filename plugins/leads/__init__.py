"""Leads: where every prospective customer comes in (web forms, fairs, calls, partners),
how it is qualified and assigned, and the opportunity pipeline it turns into."""

from accord.api import Plugin

plugin = Plugin(
    name="leads",
    version="1.0.0",
    summary="Leads from every channel, qualification, assignment, duplicates and the pipeline",
    package=__name__,
)
