"""Great Expectations suites attached to Dagster assets as blocking checks.

A failing blocking check stops the assets downstream of it, so a broken golden
record never reaches the audience exports.
"""

import dagster as dg

from ingestion.quality import validate_frame
from orchestration.resources import DuckDBWarehouse

DIM_CUSTOMERS_COLUMNS = "customer_id, email, phone, has_email_consent"


@dg.asset_check(
    asset=dg.AssetKey(["marts", "dim_customers"]),
    name="great_expectations_suite",
    blocking=True,
    description="Great Expectations suite dim_customers: unique customer ids, valid "
    "email and E.164 phone, a consent flag on every row.",
)
def dim_customers_expectations(warehouse: DuckDBWarehouse) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        frame = con.execute(
            f"select {DIM_CUSTOMERS_COLUMNS} from marts.dim_customers"
        ).df()

    outcomes = validate_frame(frame, "dim_customers")
    failed = [o for o in outcomes if not o.success]
    metadata = {
        f"{o.expectation}({o.column})": o.unexpected_count or 0 for o in outcomes
    }
    metadata["rows_validated"] = len(frame)
    return dg.AssetCheckResult(passed=not failed, metadata=metadata)
