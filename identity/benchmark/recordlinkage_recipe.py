"""The recordlinkage package's standard deduplication recipe, as a standalone script.

Usage: ``python recordlinkage_recipe.py RECORDS_CSV LINKS_CSV``. RECORDS_CSV has the
columns record_key, first_name, last_name, birth_date, street, postal_code and city,
and LINKS_CSV receives one row per predicted pair (record_key_l, record_key_r).

The script imports only the standard library, pandas and recordlinkage, because it
runs in a separate interpreter: recordlinkage 0.16 declares pandas<3, and this
project pins pandas 3.1.1. The benchmark starts it with the interpreter named in
``CDP_RECORDLINKAGE_PYTHON``.

The recipe follows the package's own FEBRL examples (recordlinkage 0.16,
docs/guides/data_deduplication.ipynb and examples/dedup_deterministic.py):

1. clean name and address strings with ``recordlinkage.preprocessing.clean``,
2. index candidate pairs by blocking on the given name and on the surname,
3. compare: exact given name, Jaro-Winkler surname at 0.85, exact birth date, exact
   suburb (city), Jaro-Winkler address at 0.85, and exact postcode in place of the
   guide's state, which the generated data lacks,
4. classify by the guide's rule: a pair matches when more than 3 of the comparisons
   agree.
"""

from __future__ import annotations

import sys
import time

import pandas as pd
import recordlinkage
from recordlinkage.preprocessing import clean

TEXT_COLUMNS = ("first_name", "last_name", "street", "city")
MIN_AGREEING_COMPARISONS = 4


def find_links(records: pd.DataFrame) -> pd.MultiIndex:
    """Return the predicted pairs of ``records``, indexed by record_key."""
    for column in TEXT_COLUMNS:
        records[column] = clean(records[column])

    indexer = recordlinkage.Index()
    indexer.block("first_name")
    indexer.block("last_name")
    candidates = indexer.index(records)

    compare = recordlinkage.Compare()
    compare.exact("first_name", "first_name", label="first_name")
    compare.string(
        "last_name", "last_name", method="jarowinkler", threshold=0.85, label="last"
    )
    compare.exact("birth_date", "birth_date", label="birth_date")
    compare.exact("city", "city", label="city")
    compare.string("street", "street", threshold=0.85, label="street")
    compare.exact("postal_code", "postal_code", label="postal_code")
    features = compare.compute(candidates, records)

    return features[features.sum(axis=1) >= MIN_AGREEING_COMPARISONS].index


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} RECORDS_CSV LINKS_CSV", file=sys.stderr)
        return 2
    started = time.perf_counter()
    records = pd.read_csv(argv[1], dtype=str, keep_default_na=False, na_values=[""])
    records = records.set_index("record_key")

    links = find_links(records)
    frame = links.to_frame(index=False, name=["record_key_l", "record_key_r"])
    frame.to_csv(argv[2], index=False)
    print(
        f"recordlinkage {recordlinkage.__version__} with pandas {pd.__version__}: "
        f"{len(frame)} links among {len(records)} records in "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
