"""Noise functions: small edits that make one person's records disagree.

Each function takes the clean value and a uniform draw in [0, 1) and returns the noisy
value. The draw picks the position or variant, so results depend only on the seed.
A function returns the value unchanged when it does not apply (a nickname for a name
outside ``NICKNAMES``, a transliteration of a name without umlauts).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, MutableSequence
from dataclasses import dataclass

import numpy as np

NoiseFunction = Callable[[str, float], str]

LETTERS = "abcdefghijklmnopqrstuvwxyz"
UMLAUT_SPELLINGS = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
UMLAUT_SPELLINGS["ß"] = "ss"
NICKNAMES = {
    "Johannes": "Hannes",
    "Alexander": "Alex",
    "Alexandra": "Alex",
    "Katharina": "Kathi",
    "Elisabeth": "Lisa",
    "Maximilian": "Max",
    "Christian": "Chris",
    "Christina": "Tina",
    "Michael": "Michi",
    "Thomas": "Tom",
    "Stefanie": "Steffi",
    "Daniela": "Dani",
    "Sebastian": "Basti",
    "Andreas": "Andi",
    "Susanne": "Susi",
    "Barbara": "Babsi",
    "Franziska": "Franzi",
    "Benjamin": "Ben",
    "Florian": "Flo",
    "Tobias": "Tobi",
    "Jennifer": "Jenny",
    "Matthias": "Matze",
    "Nikolaus": "Klaus",
    "Gabriele": "Gabi",
    "Margarethe": "Grete",
    "Wolfgang": "Wolf",
    "Nicolas": "Nico",
    "Giuseppe": "Beppe",
    "William": "Bill",
    "Robert": "Rob",
    "Elizabeth": "Liz",
    "Jonathan": "Jon",
    "Hendrik": "Henk",
}
STREET_ABBREVIATIONS = (
    ("straße", "str."),
    ("Straße", "Str."),
    ("strasse", "str."),
    ("Strasse", "Str."),
    ("Platz", "Pl."),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
)


def typo(value: str, draw: float) -> str:
    """Apply one character edit: delete, insert, replace or swap two neighbours."""
    if len(value) < 3:
        return value
    operation, rest = divmod(draw * 4, 1.0)
    position = int(rest * (len(value) - 1))
    letter = LETTERS[int(rest * 9973) % len(LETTERS)]
    if value[position].isupper():
        letter = letter.upper()
    if operation == 0:
        return value[:position] + value[position + 1 :]
    if operation == 1:
        return value[:position] + letter + value[position:]
    if operation == 2:
        return value[:position] + letter + value[position + 1 :]
    swapped = value[position + 1] + value[position]
    return value[:position] + swapped + value[position + 2 :]


def email_typo(value: str, draw: float) -> str:
    """Apply ``typo`` to the local part or the domain, keeping the ``@``."""
    local, at, domain = value.partition("@")
    if not at:
        return typo(value, draw)
    if draw < 0.6:
        return typo(local, draw / 0.6) + at + domain
    return local + at + typo(domain, (draw - 0.6) / 0.4)


def change_case(value: str, draw: float) -> str:
    if draw < 0.45:
        return value.lower()
    if draw < 0.8:
        return value.upper()
    return value.title()


def add_whitespace(value: str, draw: float) -> str:
    """Add a leading or trailing space, or double an inner space."""
    if draw < 0.4:
        return value + " "
    if draw < 0.7 or " " not in value:
        return " " + value
    return value.replace(" ", "  ", 1)


def transliterate(value: str, draw: float) -> str:
    """Write umlauts and ß the ASCII way, as forms without umlauts do: ü -> ue."""
    return "".join(UMLAUT_SPELLINGS.get(char, char) for char in value)


def strip_accents(value: str, draw: float) -> str:
    """Drop diacritics (ü -> u, é -> e) and write ß as ss."""
    decomposed = unicodedata.normalize("NFKD", value.replace("ß", "ss"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def nickname(value: str, draw: float) -> str:
    first, space, rest = value.partition(" ")
    return NICKNAMES.get(first, first) + space + rest


def abbreviate_street(value: str, draw: float) -> str:
    for long, short in STREET_ABBREVIATIONS:
        if long in value:
            return value.replace(long, short, 1)
    return value


NOISE: dict[str, NoiseFunction] = {
    "typo": typo,
    "email_typo": email_typo,
    "case": change_case,
    "whitespace": add_whitespace,
    "transliterate": transliterate,
    "strip_accents": strip_accents,
    "nickname": nickname,
    "abbreviate_street": abbreviate_street,
}


@dataclass(frozen=True)
class NoisePlan:
    """Pre-drawn noise for one field of every record of a source.

    ``kinds[i]`` is 0 for a clean record or 1 + the index of the recipe entry that
    applies, and ``draws[i]`` is the draw passed to that function. Drawing everything up
    front keeps the output independent of how records are split into chunks.
    """

    functions: tuple[NoiseFunction, ...]
    kinds: np.ndarray
    draws: np.ndarray

    def apply(self, values: MutableSequence, rows: np.ndarray) -> MutableSequence:
        """Apply the plan in place to ``values``, where ``values[i]`` is the field of
        record ``rows[i]``."""
        kinds = self.kinds[rows]
        draws = self.draws[rows]
        for position in np.flatnonzero(kinds).tolist():
            value = values[position]
            if value:
                function = self.functions[kinds[position] - 1]
                values[position] = function(value, float(draws[position]))
        return values


def draw_noise(
    rng: np.random.Generator, size: int, recipe: Mapping[str, float], scale: float
) -> NoisePlan:
    """Draw which recipe entry, if any, changes each of ``size`` records."""
    rates = np.array(list(recipe.values()), dtype=float) * scale
    if rates.sum() >= 1.0:
        raise ValueError(
            f"invalid noise recipe {dict(recipe)}: rates scaled by {scale} sum to "
            f"{rates.sum():.2f}, and they must sum to less than 1"
        )
    kinds = np.searchsorted(np.cumsum(rates), rng.random(size), side="right") + 1
    kinds[kinds > len(rates)] = 0
    functions = tuple(NOISE[name] for name in recipe)
    return NoisePlan(functions, kinds.astype(np.int8), rng.random(size))


def blank(values: MutableSequence, mask: np.ndarray) -> MutableSequence:
    """Empty the values where ``mask`` is true, as a missing field exports."""
    for row in np.flatnonzero(mask):
        values[row] = ""
    return values
