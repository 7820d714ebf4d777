"""Asset keys of the erasure steps, importable without loading the assets."""

import dagster as dg

ERASURE_KEY = dg.AssetKey(["privacy", "erasure"])
RETENTION_KEY = dg.AssetKey(["privacy", "retention"])
VERIFICATION_KEY = dg.AssetKey(["privacy", "erasure_verification"])
COMPACTION_KEY = dg.AssetKey(["privacy", "warehouse_compaction"])
