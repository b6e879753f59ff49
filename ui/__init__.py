"""The web UI (Starlette, Jinja2, htmx), assembled from the enabled plugins' routes."""

from accord.ui.app import create_app

__all__ = ["create_app"]
