"""The app: routes of every page module in PAGES, static files, and the middleware in order (Host check and
headers outermost, then the signed session, then the login wall)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from reverse_etl.web.context import WebContext
from reverse_etl.web.gate import LoginWall
from reverse_etl.web.pages import audiences, identity, login, segments, status, syncs
from reverse_etl.web.security import Access, GuardMiddleware

# The plug-in point (see the package docstring): one line per area of pages.
PAGES: list[ModuleType] = [status, login, syncs, segments, identity, audiences]
SESSION_HOURS = 8


def make_app(
    context: WebContext,
    access: Access,
    extra_routes: list[BaseRoute] | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> Starlette:
    """`extra_routes` come before the pages (the profile API's, when served from this app)."""
    routes: list[BaseRoute] = list(extra_routes or [])
    for module in PAGES:
        routes += module.routes
    routes.append(Mount("/static", StaticFiles(packages=[("reverse_etl.web", "static")]), name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(GuardMiddleware, access=access),
            Middleware(
                SessionMiddleware,
                secret_key=context.auth.session_secret,
                session_cookie="cdp_session",
                max_age=SESSION_HOURS * 3600,
                same_site="strict",
                https_only=False,  # loopback has no TLS; behind a TLS proxy the proxy sets Secure
            ),
            Middleware(LoginWall, auth=context.auth, logouts=context.logouts),
        ],
        lifespan=lifespan,
    )
    app.state.cdp = context
    app.state.nav = [module.nav for module in PAGES if hasattr(module, "nav")]
    return app


def profile_routes(syncs: dict[str, Any]) -> tuple[list[BaseRoute], Callable[[], None] | None, str | None]:
    """The profile API's routes when a profile_store sync is declared and its tokens are configured; else
    none, with the reason in one line (the rest of the app serves anyway)."""
    from reverse_etl.errors import ConfigError
    from reverse_etl.profiles.api import make_app as make_profile_app
    from reverse_etl.profiles.auth import Tokens
    from reverse_etl.profiles.normalize import load_rules
    from reverse_etl.profiles.serving import profile_sync, profile_syncs
    from reverse_etl.profiles.settings import StoreSettings
    from reverse_etl.project import project_dir
    from reverse_etl.sync.config import expand_env

    if not profile_syncs(syncs):
        return [], None, None
    try:
        tokens = Tokens.from_environment()
        store = StoreSettings.parse(expand_env(profile_sync(syncs).options)).open(create=True)
    except ConfigError as error:
        return [], None, f"profile API not served: {error}"
    profile_app = make_profile_app(store, load_rules(project_dir()), tokens)
    return list(profile_app.routes), store.close, None
