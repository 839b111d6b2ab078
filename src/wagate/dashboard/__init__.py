"""The dashboard: server-rendered pages at ``/`` and ``/dashboard/…`` (Jinja2
templates, plain CSS and a little JavaScript of our own, no front-end build)."""
