"""REST resources, one module per resource; each exposes `ROUTES` for web/routes.py."""
