"""The web app of `cdp serve`: one Starlette app under uvicorn with the pages for operators and marketers
(overview, syncs, segments, identity), the JSON API under /api/v1/..., the profile API when a profile_store
sync is declared, login and roles. Templates in templates/, assets in static/ (nothing from a CDN; charts are
inline SVG drawn by templates).

Plug-in point: PAGES in reverse_etl.web.app lists the route modules; each module exposes `routes`, a list of
Starlette routes (Route or Mount), and may expose `nav = (title, path)` for a link in the top bar. A new
area adds its pages with one line there, e.g.

    from reverse_etl.web.pages import audiences
    PAGES = [..., audiences]

Its templates go in templates/ (extending base.html), its scripts and styles in static/ (served at /static/;
the Content-Security-Policy allows scripts and styles from the app itself, never inline). It gets, per
request: the WebContext (reverse_etl.web.context.context), the user and role
(context.user), the page frame (templates/base.html, through context.render) and the CSRF check
(reverse_etl.web.gate.refusal) for anything that changes state.

auth: users, tokens, password hashes; gate: sessions, login wall, CSRF; security: Host check and headers;
reads: read-only warehouse reads of the pages; server: listening (in a thread, or from `cdp serve`)."""

from reverse_etl.web.app import PAGES, make_app
from reverse_etl.web.server import AppServer

__all__ = ["PAGES", "AppServer", "make_app"]
