"""A package so that the browser, a ``scope="package"`` fixture, is closed with its last test
(conftest.py says why)."""
