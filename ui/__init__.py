"""The web UI (Starlette, Jinja2, htmx), assembled from the enabled plugins' routes."""
