"""The base every app builds on: errors, API plumbing (pagination, filters, parsers, serializers,
permissions, schema), roles, middleware and the small shared helpers (encrypted fields, secrets,
outbound requests, paths, history, languages, holidays, panels).

It imports no app of the portal; `portal/` (the site: settings, urls, dashboard, health, serve)
and every app import it. pyproject.toml's import-linter contracts keep it so (`make lint`).
"""
