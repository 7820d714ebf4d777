"""Identifiers in the shapes the source systems use, drawn as numpy arrays."""

from __future__ import annotations

import numpy as np

HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
UUID_DASHES = (8, 13, 18, 23)


def uuid4_strings(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw random version-4 UUIDs as strings, without a Python loop."""
    raw = rng.integers(0, 256, size=(size, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80

    digits = np.empty((size, 32), dtype=np.uint8)
    digits[:, 0::2] = HEX_DIGITS[raw >> 4]
    digits[:, 1::2] = HEX_DIGITS[raw & 0x0F]
    text = np.insert(digits, [8, 12, 16, 20], ord("-"), axis=1)
    return text.view("S36").ravel().astype(str)


def increasing_ids(
    rng: np.random.Generator, size: int, first: int, max_gap: int
) -> np.ndarray:
    """Draw unique ids that grow in record order, like database sequences that other
    tenants share: each id is the previous one plus 1 to ``max_gap``."""
    return first + np.cumsum(rng.integers(1, max_gap + 1, size=size, dtype=np.int64))


def scrambled_hex_ids(
    prefix: str, indexes: np.ndarray, salt: int, digits: int = 14
) -> np.ndarray:
    """Map distinct indexes to distinct ids that look random: "usr_3f9a0c41d2b7e5".

    Multiplying by an odd number modulo a power of two is a bijection, so distinct
    indexes never share an id.
    """
    modulus = 1 << (4 * digits)
    multiplier = 0x9E3779B97F4A7C15 % modulus | 1
    values = [(index * multiplier + salt) % modulus for index in indexes.tolist()]
    return np.array([f"{prefix}{value:0{digits}x}" for value in values], dtype=object)
