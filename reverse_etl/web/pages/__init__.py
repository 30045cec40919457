"""The app's pages, one module per area; each exposes `routes`, a list of Starlette routes."""
