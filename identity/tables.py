"""Names of the warehouse tables identity resolution reads and writes.

The warehouse tables are named relative to the connection's default database. Working
tables (Splink's ``__splink__*`` tables and our own intermediate steps) live in
``SCRATCH_DATABASE``, an in-memory database attached for one run, so a run leaves
nothing behind in the warehouse file.
"""

from __future__ import annotations

# Inputs, written by the dbt intermediate models.
PERSON_RECORDS = "intermediate.int_person_records"
IDENTIFIERS = "intermediate.int_identifiers"
# Optional: consent statements per record (record_key, is_consent, ...). The
# identifier graph reads them to find who subscribed a shared e-mail address.
EMAIL_CONSENT_SIGNALS = "intermediate.int_email_consent_signals"

# Outputs, one schema for everything identity resolution owns.
IDENTITY_SCHEMA = "identity"
RECORD_CUSTOMERS = "identity.record_customers"
MATCH_PAIRS = "identity.match_pairs"
RESOLUTION_METRICS = "identity.resolution_metrics"
SKIPPED_IDENTIFIERS = "identity.skipped_identifiers"

# Stable customer ids (identity/stable_ids.py). Each run updates these tables in
# place and never drops them, because they carry the ids from run to run. Neither dbt
# nor a full refresh touches the identity schema.
CUSTOMER_ID_MAP = "identity.customer_id_map"
CUSTOMER_IDS = "identity.customer_ids"
CUSTOMER_ID_HISTORY = "identity.customer_id_history"
CUSTOMER_ID_LOOKUP = "identity.customer_id_lookup"

SCRATCH_DATABASE = "identity_scratch"


def scratch_table(name: str) -> str:
    """Return the qualified name of a working table in the scratch database."""
    return f"{SCRATCH_DATABASE}.main.{name}"
