"""The Customer 360 Starlette app: routes, warehouse access and error pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, quote

import duckdb
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from orchestration.customer360.auth import BasicAuthMiddleware, Credentials
from orchestration.customer360.middleware import (
    AccessLogMiddleware,
    SecurityHeadersMiddleware,
)
from orchestration.customer360.profile import current_customer_id, load_profile
from orchestration.customer360.search import MAX_INPUT_LENGTH, search_customers
from orchestration.resources import WarehouseLockedError, connect_with_retry

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
# A request waits this long for the nightly writer to release the file before the
# app responds with "try again". Longer would leave staff looking at a spinning page.
CONNECT_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 60
MAX_FORM_BYTES = 8192
# Every table the search and profile queries read. On the Spark engine, cdp serve
# copies exactly these into its snapshot, so a query of another table must add it.
TABLES = (
    "marts.dim_customers",
    "marts.customer_id_changes",
    "marts.customer_emails",
    "marts.customer_phones",
    "marts.customer_addresses",
    "marts.customer_source_records",
    "marts.customer_email_consent",
    "marts.customer_traits",
    "marts.customer_timeline",
    "marts.segment_memberships",
    "marts.segment_membership_history",
    "marts.fct_orders",
    "marts.fct_support_tickets",
    "marts.fct_email_activities",
)


class WarehouseUnavailable(Exception):
    """The warehouse file cannot be read now; ``reason`` picks the page to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def format_value(value: object) -> str:
    """Format a warehouse value for a table cell."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return f"{value:,.2f}"
    if isinstance(value, list):
        return ", ".join(format_value(item) for item in value)
    return str(value)


def build_templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["show"] = format_value
    environment.filters["label"] = lambda name: name.replace("_", " ")
    return environment


class Customer360:
    """Route handlers bound to one warehouse file.

    ``snapshot_taken_at`` is the time the file was copied from the Spark engine's
    tables, which every page shows, or None when the app reads the warehouse itself.
    """

    def __init__(self, warehouse: Path, snapshot_taken_at: datetime | None) -> None:
        self.warehouse = warehouse
        self.templates = build_templates()
        self.templates.globals["snapshot_taken_at"] = (
            snapshot_taken_at.strftime("%Y-%m-%d %H:%M UTC")
            if snapshot_taken_at
            else None
        )

    def page(self, template: str, status: int = 200, **context) -> HTMLResponse:
        html = self.templates.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    @contextmanager
    def read_only(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse read-only for one request and close it right after."""
        if not self.warehouse.exists():
            raise WarehouseUnavailable("missing")
        try:
            con = connect_with_retry(
                self.warehouse, True, CONNECT_TIMEOUT_SECONDS, logger
            )
        except WarehouseLockedError as error:
            raise WarehouseUnavailable("locked") from error
        try:
            yield con
        except duckdb.CatalogException as error:
            logger.error("the warehouse lacks a mart the app reads: %s", error)
            raise WarehouseUnavailable("incomplete") from error
        finally:
            con.close()

    async def home(self, request: Request) -> Response:
        return self.page("search.html", query="", hits=None)

    async def search(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return self.page("search.html", 413, query="", hits=None)
        values = parse_qs(body.decode("utf-8", errors="replace"))
        query = values.get("q", [""])[0].strip()[:MAX_INPUT_LENGTH]
        if not query:
            return self.page("search.html", query="", hits=None)
        hits = await run_in_threadpool(self._search, query)
        if len(hits) == 1:
            return RedirectResponse(_customer_url(hits[0].customer_id), 303)
        return self.page("search.html", query=query, hits=hits)

    def _search(self, query: str):
        with self.read_only() as con:
            return search_customers(con, query)

    async def customer(self, request: Request) -> Response:
        customer_id = request.path_params["customer_id"]
        profile, current_id = await run_in_threadpool(self._profile, customer_id)
        if profile is not None:
            return self.page("customer.html", profile=profile)
        if current_id is not None:
            return RedirectResponse(_customer_url(current_id), 303)
        return self.page("message.html", 404, reason="unknown_customer")

    def _profile(self, customer_id: str):
        with self.read_only() as con:
            profile = load_profile(con, customer_id)
            current_id = None if profile else current_customer_id(con, customer_id)
            return profile, current_id

    async def unavailable(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, WarehouseUnavailable)
        response = self.page("message.html", 503, reason=error.reason)
        response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
        return response


def _customer_url(customer_id: str) -> str:
    return "/customers/" + quote(customer_id, safe="")


def create_app(
    warehouse: Path,
    credentials: Credentials,
    snapshot_taken_at: datetime | None = None,
) -> Starlette:
    """Build the app: every route behind the login, each request logged without PII.

    ``snapshot_taken_at`` (UTC) marks ``warehouse`` as a snapshot taken then, and
    every page shows that time.
    """
    handlers = Customer360(warehouse, snapshot_taken_at)
    routes = [
        Route("/", handlers.home, methods=["GET"]),
        Route("/search", handlers.search, methods=["POST"]),
        Route("/customers/{customer_id}", handlers.customer, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AccessLogMiddleware, routes=routes),
            Middleware(SecurityHeadersMiddleware),
            Middleware(BasicAuthMiddleware, credentials=credentials),
        ],
        exception_handlers={WarehouseUnavailable: handlers.unavailable},
    )
