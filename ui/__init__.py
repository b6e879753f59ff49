"""The web UI (Starlette, Jinja2, htmx), assembled from the enabled plugins' routes.

``create_app(runtime)`` builds the app; a view (a plugin's too) renders a page in the app's
layout with ``page(request, "leads/pipeline.html", {...})`` and may leave a message for the
next page with ``flash(request, "Saved.")``.
"""

from accord.ui.app import create_app
from accord.ui.site import flash, page

__all__ = ["create_app", "flash", "page"]
