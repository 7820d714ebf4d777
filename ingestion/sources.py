"""Source contracts: one declaration per source system, read by the loader and the
sample generator.

Each contract maps the header a source system exports (or a JSON path) to the column
name used in ``raw.<table>``. Raw columns keep the exported text unchanged (VARCHAR);
typing and normalization happen in the dbt staging models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FileFormat = Literal["csv", "jsonl", "json_array", "parquet"]
Compression = Literal["auto", "gzip", "none"]
# Types a contract can give a raw column. "text" keeps the exported text as it is.
# The others are parsed at load with the source's format options and stored typed
# in raw. A value that does not parse rejects its row with the reason.
ColumnType = Literal["text", "integer", "decimal", "date", "timestamp", "boolean"]
COLUMN_TYPES: tuple[str, ...] = (
    "text",
    "integer",
    "decimal",
    "date",
    "timestamp",
    "boolean",
)


@dataclass(frozen=True)
class Retention:
    """How long the nightly job keeps a source's rows, counted back from the run date.

    Older rows leave ``raw`` and their landing file, and a landing file left
    without rows is deleted (``orchestration/privacy/retention.py``).
    """

    days: int
    # Raw columns with the row's event time, in order of preference: the first
    # that reads as a timestamp counts. A row where none does is kept.
    event_time: tuple[str, ...]
    # Raw column -> values a row needs in that column to be purged, compared as
    # the staging models read labels: trimmed, lower case, with spaces and hyphens
    # as underscores. Rows with other values are kept whatever their age, for
    # example unsubscribes, which prove a withdrawal of consent. Empty: every row.
    only_when: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def columns(self) -> list[str]:
        return [*self.event_time, *self.only_when]


@dataclass(frozen=True)
class Source:
    """A source system's nightly extract and the raw table it loads into."""

    name: str
    description: str
    file_pattern: str
    file_format: FileFormat
    columns: dict[str, str]
    required: tuple[str, ...]
    key: tuple[str, ...]
    delimiter: str = ","
    # Text encoding of CSV and JSON lines files. Anything but UTF-8 is converted
    # to a temporary UTF-8 copy before DuckDB reads it.
    encoding: str = "utf-8"
    # "auto" reads names ending in .gz as gzip and everything else as plain.
    compression: Compression = "auto"
    json_records_path: str | None = None
    # Raw column -> type; columns not listed are "text".
    types: dict[str, ColumnType] = field(default_factory=dict)
    # Number format of "decimal" and "integer" columns: German exports write
    # 1.234,56 (decimal_separator=",", thousands_separator=".").
    decimal_separator: str = "."
    thousands_separator: str | None = None
    # strptime formats of "date" and "timestamp" columns; None reads ISO 8601.
    date_format: str | None = None
    timestamp_format: str | None = None
    # Python regular expression (re.search) for summary lines some systems append
    # to a CSV export ("Total rows: 1234"). Matching lines in the last 64 KiB of a
    # CSV file are recorded as rejects with the reason "summary line".
    footer_pattern: str | None = None
    # None keeps the source's rows for as long as the warehouse exists.
    retention: Retention | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.types) - set(self.columns.values()))
        if unknown:
            raise ValueError(
                f"source {self.name}: types name columns outside the contract: "
                + ", ".join(unknown)
            )
        bad = sorted(c for c, t in self.types.items() if t not in COLUMN_TYPES)
        if bad:
            raise ValueError(
                f"source {self.name}: unknown type for column(s) {', '.join(bad)}; "
                f"known types: {', '.join(COLUMN_TYPES)}"
            )
        if self.retention is not None:
            self._check_retention(self.retention)
        if self.decimal_separator == self.thousands_separator:
            raise ValueError(
                f"source {self.name}: decimal and thousands separator are both "
                f"{self.decimal_separator!r}"
            )

    def _check_retention(self, retention: Retention) -> None:
        outside = sorted(set(retention.columns()) - set(self.columns.values()))
        if outside:
            raise ValueError(
                f"source {self.name}: retention names columns outside the "
                "contract: " + ", ".join(outside)
            )
        if retention.days < 1 or not retention.event_time:
            raise ValueError(
                f"source {self.name}: retention needs days >= 1 and at least one "
                f"event_time column, got {retention.days} days and "
                f"{len(retention.event_time)} columns"
            )

    def column_type(self, raw_column: str) -> ColumnType:
        return self.types.get(raw_column, "text")

    @property
    def table(self) -> str:
        return self.name

    @property
    def landing_folder(self) -> str:
        """Folder under ``data/landing/`` that contains this source's extracts."""
        return self.name

    @property
    def raw_columns(self) -> list[str]:
        return list(self.columns.values())

    @property
    def file_patterns(self) -> tuple[str, str]:
        """Patterns of the plain extract and its gzip-compressed form (``.gz``)."""
        return (self.file_pattern, f"{self.file_pattern}.gz")

    def is_gzip(self, file_name: str) -> bool:
        if self.compression == "auto":
            return file_name.endswith(".gz")
        return self.compression == "gzip"


# Web tracking and email engagement are kept 25 months (760 days), the limit the
# French data protection authority CNIL recommends for audience-measurement data
# (deliberation of 4 July 2025). Orders, CRM contacts and lead forms have no
# retention here: they are the customer relationship and its consent records, and
# people leave them through `cdp forget`.
TRACKING_RETENTION_DAYS = 760

CRM_CONTACTS = Source(
    name="crm_contacts",
    description="CRM contact export in HubSpot's layout, one row per contact.",
    file_pattern="crm_contacts_*.csv",
    file_format="csv",
    columns={
        "Record ID": "record_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone_number",
        "Street Address": "street_address",
        "Postal Code": "postal_code",
        "City": "city",
        "Country/Region": "country",
        "Date of birth": "date_of_birth",
        "Create Date": "create_date",
        "Last Modified Date": "last_modified_date",
        "Marketing email opt-in": "marketing_email_opt_in",
    },
    required=("record_id",),
    key=("record_id",),
)

SHOP_ORDERS = Source(
    name="shop_orders",
    description=(
        "Online-shop order export in Shopify's layout: one row per line item; order "
        "fields are filled on the first line item of an order only."
    ),
    file_pattern="shop_orders_*.csv",
    file_format="csv",
    columns={
        "Name": "order_name",
        "Email": "email",
        "Financial Status": "financial_status",
        "Paid at": "paid_at",
        "Fulfillment Status": "fulfillment_status",
        "Accepts Marketing": "accepts_marketing",
        "Currency": "currency",
        "Subtotal": "subtotal",
        "Shipping": "shipping",
        "Taxes": "taxes",
        "Total": "total",
        "Discount Code": "discount_code",
        "Created at": "created_at",
        "Lineitem quantity": "lineitem_quantity",
        "Lineitem name": "lineitem_name",
        "Lineitem price": "lineitem_price",
        "Lineitem sku": "lineitem_sku",
        "Billing Name": "billing_name",
        "Billing Street": "billing_street",
        "Billing City": "billing_city",
        "Billing Zip": "billing_zip",
        "Billing Country": "billing_country",
        "Billing Phone": "billing_phone",
        "Id": "order_id",
    },
    required=("order_name", "lineitem_name"),
    key=("order_name", "lineitem_sku"),
    types={
        "subtotal": "decimal",
        "shipping": "decimal",
        "taxes": "decimal",
        "total": "decimal",
        "lineitem_price": "decimal",
        "lineitem_quantity": "integer",
    },
)

WEB_EVENTS = Source(
    name="web_events",
    description=(
        "Web and app tracking events as Segment-spec JSON lines. Nested objects "
        "(traits, properties, context) are kept as JSON text."
    ),
    file_pattern="web_events_*.jsonl",
    file_format="jsonl",
    columns={
        "messageId": "message_id",
        "type": "type",
        "event": "event",
        "name": "name",
        "anonymousId": "anonymous_id",
        "userId": "user_id",
        "traits": "traits",
        "properties": "properties",
        "context": "context",
        "originalTimestamp": "original_timestamp",
        "sentAt": "sent_at",
        "receivedAt": "received_at",
        "timestamp": "timestamp",
    },
    required=("message_id", "type"),
    key=("message_id",),
    retention=Retention(
        days=TRACKING_RETENTION_DAYS,
        event_time=("received_at", "timestamp", "original_timestamp", "sent_at"),
    ),
)

EMAIL_ACTIVITY = Source(
    name="email_activity",
    description="Email platform activity export: one row per send, open, click, "
    "bounce or unsubscribe.",
    file_pattern="email_activity_*.csv",
    file_format="csv",
    columns={
        "Campaign ID": "campaign_id",
        "Campaign Name": "campaign_name",
        "Email Address": "email",
        "Action": "action",
        "Timestamp": "timestamp",
        "URL": "url",
    },
    # The timestamp is not required: an unsubscribe without one must still reach
    # the suppression list.
    required=("email", "action"),
    key=("campaign_id", "email", "action", "timestamp"),
    # Only sends, opens, clicks and soft bounces expire. Hard bounces, unsubscribes
    # and complaints keep an address on the suppression list for good, and
    # labels the project does not know are kept too.
    retention=Retention(
        days=TRACKING_RETENTION_DAYS,
        event_time=("timestamp",),
        only_when={
            "action": (
                "send",
                "sent",
                "delivered",
                "delivery",
                "open",
                "opened",
                "click",
                "clicked",
                "soft_bounce",
                "soft_bounced",
                "softbounce",
            )
        },
    ),
)

HELPDESK_TICKETS = Source(
    name="helpdesk_tickets",
    description="Helpdesk tickets as a Zendesk-style JSON export: "
    '{"tickets": [...]}, requester nested.',
    file_pattern="helpdesk_tickets_*.json",
    file_format="json_array",
    json_records_path="tickets",
    columns={
        "id": "ticket_id",
        "requester.name": "requester_name",
        "requester.email": "requester_email",
        "requester.phone": "requester_phone",
        "subject": "subject",
        "description": "description",
        "status": "status",
        "via.channel": "channel",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "satisfaction_rating.score": "satisfaction_rating",
        "priority": "priority",
        "url": "ticket_url",
    },
    required=("ticket_id",),
    key=("ticket_id",),
    # Three years after the ticket's last update, the regular limitation period of
    # claims under German civil law (section 195 BGB).
    retention=Retention(days=1095, event_time=("updated_at", "created_at")),
)

SOCIAL_LEADS = Source(
    name="social_leads",
    description="Social lead-form export in Facebook lead ads' CSV layout.",
    file_pattern="social_leads_*.csv",
    file_format="csv",
    columns={
        "id": "lead_id",
        "created_time": "created_time",
        "ad_id": "ad_id",
        "ad_name": "ad_name",
        "adset_name": "adset_name",
        "campaign_name": "campaign_name",
        "form_name": "form_name",
        "platform": "platform",
        "full_name": "full_name",
        "email": "email",
        "phone_number": "phone_number",
        "city": "city",
        "marketing_consent": "marketing_consent",
    },
    required=("lead_id",),
    key=("lead_id",),
)

SOURCES: tuple[Source, ...] = (
    CRM_CONTACTS,
    SHOP_ORDERS,
    WEB_EVENTS,
    EMAIL_ACTIVITY,
    HELPDESK_TICKETS,
    SOCIAL_LEADS,
)


def get_source(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    known = ", ".join(s.name for s in SOURCES)
    raise KeyError(f"unknown source {name!r}; known sources: {known}")
