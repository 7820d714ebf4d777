"""Locations of a person's email addresses, phone numbers and record keys per source.

The loader and the erasure step read these SQL expressions over the columns of
``raw.<source>`` (exported text), so both recognise a person in the same places. The
expressions follow the staging models: the same JSON paths for web traits, the same
country for reading a phone number, the same record keys as ``int_person_records``.
They call the normalizer functions that ``ingestion.dbt_udfs`` registers.
"""

from __future__ import annotations

from dataclasses import dataclass

# Countries to read a phone number in when its row states none; keep equal to the
# dbt var phone_regions_without_country.
PHONE_REGIONS_WITHOUT_COUNTRY = "DE,AT,CH"


@dataclass(frozen=True)
class IdentifierColumn:
    """One identifier in a raw row: its kind and the SQL that extracts it as text."""

    kind: str  # "email" or "phone"
    expression: str
    # SQL for the country a phone number without a country code is read in.
    country: str | None = None


def _json(column: str, path: str) -> str:
    return f"try(json_extract_string({column}, '$.{path}'))"


def _web_identifiers() -> tuple[IdentifierColumn, ...]:
    columns = []
    for container, prefix in (("traits", ""), ("context", "traits.")):
        country = _json(container, f"{prefix}address.country")
        columns.append(IdentifierColumn("email", _json(container, f"{prefix}email")))
        columns.append(
            IdentifierColumn("phone", _json(container, f"{prefix}phone"), country)
        )
    return tuple(columns)


RAW_IDENTIFIERS: dict[str, tuple[IdentifierColumn, ...]] = {
    "crm_contacts": (
        IdentifierColumn("email", "email"),
        IdentifierColumn("phone", "phone_number", "country"),
    ),
    "shop_orders": (
        IdentifierColumn("email", "email"),
        IdentifierColumn("phone", "billing_phone", "billing_country"),
    ),
    "web_events": _web_identifiers(),
    "email_activity": (IdentifierColumn("email", "email"),),
    "helpdesk_tickets": (
        IdentifierColumn("email", "requester_email"),
        IdentifierColumn("phone", "requester_phone"),
    ),
    "social_leads": (
        IdentifierColumn("email", "email"),
        IdentifierColumn("phone", "phone_number"),
    ),
}

# Record keys of identity resolution (``int_person_records.record_key``) per raw row.
# A web event belongs to two records, its user id's and its anonymous id's.
RAW_RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "crm_contacts": ("'crm_contacts:' || nullif(trim(record_id), '')",),
    "shop_orders": ("'shop_orders:' || nullif(trim(order_name), '')",),
    "web_events": (
        "'web_events:user:' || nullif(trim(user_id), '')",
        "'web_events:anon:' || nullif(trim(anonymous_id), '')",
    ),
    "email_activity": ("'email_activity:' || lower(nullif(trim(email), ''))",),
    "helpdesk_tickets": ("'helpdesk_tickets:' || nullif(trim(ticket_id), '')",),
    "social_leads": ("'social_leads:' || nullif(trim(lead_id), '')",),
}

# Tokens of a rejected row's text that may be an email address or a phone number.
EMAIL_TOKEN = r"[^\s,;\"'<>()\[\]{}]+@[^\s,;\"'<>()\[\]{}]+"
PHONE_TOKEN = r"\+?[0-9][0-9 ()/.\-]{5,}[0-9]"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def normalized_sql(column: IdentifierColumn) -> str:
    """SQL for the normalized identifier: lower-cased email or E.164 phone number."""
    if column.kind == "email":
        return f"cdp_normalize_email({column.expression})"
    default = f"'{PHONE_REGIONS_WITHOUT_COUNTRY}'"
    if column.country is None:
        region = default
    else:
        region = f"coalesce(cdp_normalize_country({column.country}), {default})"
    return f"cdp_normalize_phone({column.expression}, {region})"


def hash_sql(kind: str, normalized: str, salt_parameter: str = "$salt") -> str:
    """SQL for the salted identifier hash; equal to ``store.identifier_hash``."""
    return f"sha256({salt_parameter} || ':{kind}:' || {normalized})"


def raw_identifier_hashes_sql(source: str, relation: str, row_id: str) -> str:
    """SQL listing ``(row_id, kind, identifier_hash)`` for every identifier of the
    rows of ``relation``, a raw table or a staged file of ``source``."""
    parts = []
    for column in RAW_IDENTIFIERS[source]:
        normalized = normalized_sql(column)
        parts.append(
            f"select {row_id} as row_id, '{column.kind}' as kind, "
            f"{hash_sql(column.kind, normalized)} as identifier_hash "
            f"from {relation} where {normalized} is not null"
        )
    return "\nunion all\n".join(parts)


def reject_token_hashes_sql(relation: str, row_id: str, text: str) -> str:
    """SQL listing ``(row_id, kind, identifier_hash)`` for the email- and phone-like
    tokens of rejected rows, whose columns could not be read."""
    email = "cdp_normalize_email(token)"
    phone = f"cdp_normalize_phone(token, '{PHONE_REGIONS_WITHOUT_COUNTRY}')"
    return f"""
        select row_id, 'email' as kind, {hash_sql("email", email)} as identifier_hash
        from (
            select {row_id} as row_id,
                unnest(regexp_extract_all({text}, {_literal(EMAIL_TOKEN)})) as token
            from {relation}
        ) where {email} is not null
        union all
        select row_id, 'phone', {hash_sql("phone", phone)}
        from (
            select {row_id} as row_id,
                unnest(regexp_extract_all({text}, {_literal(PHONE_TOKEN)})) as token
            from {relation}
        ) where {phone} is not null
    """
