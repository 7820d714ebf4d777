"""Normalizers for contact fields, shared by the dbt staging models and Python code.

Each function takes the text a source system exported and returns the canonical form
used across the warehouse, or None when the value is missing or invalid. None in,
None out, and no function raises on bad input, because one malformed row must not
stop a nightly build. ``ingestion.dbt_udfs`` registers these functions in DuckDB.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

DEFAULT_PHONE_REGION = "DE"

# Country names that pycountry (ISO 3166 English names) does not resolve: German
# names, common short forms and licence-plate codes seen in hand-typed forms.
COUNTRY_ALIASES = {
    "deutschland": "DE",
    "bundesrepublik deutschland": "DE",
    "brd": "DE",
    "d": "DE",
    "österreich": "AT",
    "oesterreich": "AT",
    "a": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "liechtenstein": "LI",
    "niederlande": "NL",
    "holland": "NL",
    "belgien": "BE",
    "frankreich": "FR",
    "italien": "IT",
    "italia": "IT",
    "spanien": "ES",
    "polen": "PL",
    "tschechien": "CZ",
    "dänemark": "DK",
    "luxemburg": "LU",
    "uk": "GB",
    "england": "GB",
    "großbritannien": "GB",
    "usa": "US",
    "turkey": "TR",
    "türkei": "TR",
}

# Postal code length for countries whose codes are digits only.
POSTAL_CODE_DIGITS = {"DE": 5, "AT": 4, "CH": 4, "LI": 4, "BE": 4, "DK": 4, "LU": 4}

# Lower-case words that stay lower case inside a name or place name written in one
# case, e.g. "frankfurt am main" -> "Frankfurt am Main".
LOWER_CASE_WORDS = frozenset(
    {
        "von", "van", "der", "den", "de", "du", "da", "di", "del", "dem", "zu", "zum",
        "zur", "vom", "ten", "ter", "am", "an", "im", "in", "auf", "bei", "ob", "unter",
        "und",
    }
)  # fmt: skip
NAME_PARTICLES = frozenset(
    {"von", "van", "de", "du", "da", "di", "del", "zu", "zum", "zur", "vom", "ten", "ter"}
)  # fmt: skip
# Salutations and academic titles, lower-cased and without a trailing dot.
NAME_PREFIXES = frozenset(
    {
        "herr", "frau", "mr", "mrs", "ms", "dr", "prof", "ing", "mag", "di", "dipl.-ing",
        "univ.prof", "(fh)", "med", "dent", "univ",
    }
)  # fmt: skip
NAME_SUFFIXES = frozenset(
    {
        "ba", "b.a", "bsc", "b.sc", "b.eng", "beng", "bed", "bakk", "ma", "m.a", "msc",
        "m.sc", "m.eng", "meng", "med", "mba", "phd", "ph.d", "ll.m", "jr", "sr",
    }
)  # fmt: skip

_POSTAL_COUNTRY_PREFIX = re.compile(r"^(?:D|DE|A|AT|CH|FL)\s*-\s*(?=\d)")


def _clean_text(value: object) -> str | None:
    """Return the value in NFC form, trimmed and collapsed, or None when blank.

    Invisible format characters (zero-width spaces and joiners, direction marks, a
    byte order mark) are dropped, and control characters such as NUL count as
    whitespace, so two spellings of one value that look alike compare equal.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value))
    if not text.isprintable():
        text = "".join(_visible(char) for char in text)
    text = " ".join(text.split())
    return text or None


def _visible(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category == "Cc":
        return " "
    return char


def normalize_email(value: object) -> str | None:
    """Return the address lower-cased and trimmed, or None when it is not valid.

    Validation checks syntax only (no DNS lookup), so it runs offline.
    """
    text = _clean_text(value)
    if text is None:
        return None
    text = text.removeprefix("mailto:").strip("<>")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def normalize_phone(value: object, default_region: str | None = None) -> str | None:
    """Return the number in E.164 form, or None when libphonenumber finds it invalid.

    ``default_region`` (ISO 3166 alpha-2) is the country of a number written without
    a country code, usually the country of the record. Without it, Germany is used.
    For records of unknown country it may list candidates, "DE,AT,CH": the number is
    read in the first, and if it is invalid there, it is kept only when exactly one
    other candidate reads it as valid.
    """
    text = _clean_text(value)
    if text is None or not any(char.isdigit() for char in text):
        return None
    regions = (_clean_text(default_region) or DEFAULT_PHONE_REGION).upper().split(",")
    candidates = [_parse_valid_phone(text, region.strip()) for region in regions]
    if candidates[0] is not None:
        return candidates[0]

    others = {number for number in candidates[1:] if number is not None}
    return others.pop() if len(others) == 1 else None


def _parse_valid_phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _capitalize_word(word: str) -> str:
    parts = re.split(r"([-'’])", word)
    return "".join(_upper_initial(part[:1]) + part[1:] for part in parts)


def _upper_initial(char: str) -> str:
    # A letter whose capital is two letters (ß -> SS) stays as it is, so that
    # normalizing the result again gives the same name.
    upper = char.upper()
    return upper if len(upper) == len(char) else char


def normalize_name(value: object) -> str | None:
    """Return a person or place name trimmed, with whitespace collapsed.

    A value written all in lower or all in upper case gets display case
    ("ANNA-LENA" becomes "Anna-Lena"). Mixed case is kept because it is usually
    deliberate ("McDonald", "von Bülow").
    """
    text = _clean_text(value)
    if text is None or not (text.islower() or text.isupper()):
        return text
    words = text.lower().split(" ")
    result = [_capitalize_word(words[0])]
    for word in words[1:]:
        keep_lower = word in LOWER_CASE_WORDS or not word[:1].isalpha()
        result.append(word if keep_lower else _capitalize_word(word))
    # Changing case can decompose a letter (İ lower-cases to i and a dot above).
    return unicodedata.normalize("NFC", " ".join(result))


def _is_title(token: str, titles: frozenset[str]) -> bool:
    return token.lower().rstrip(".,") in titles


def split_full_name(value: object) -> tuple[str | None, str | None]:
    """Split a full name into (first name, last name), both normalized.

    Academic titles and salutations before or after the name are dropped. "Last,
    First" is read as such. Otherwise the last name starts at a particle ("Ursula von
    der Leyen") or is the last word ("Anna Maria Schmidt"). A single word is taken as
    the first name.
    """
    text = _clean_text(value)
    if text is None:
        return None, None
    if "," in text:
        last, _, first = text.partition(",")
        if _clean_text(first) and not _is_title(first.strip(), NAME_SUFFIXES):
            return normalize_name(first), normalize_name(last)
        text = last

    tokens = text.split(" ")
    while len(tokens) > 1 and _is_title(tokens[0], NAME_PREFIXES):
        tokens.pop(0)
    while len(tokens) > 1 and _is_title(tokens[-1], NAME_SUFFIXES):
        tokens.pop()
    if len(tokens) == 1:
        return normalize_name(tokens[0]), None

    split_at = len(tokens) - 1
    for index in range(1, len(tokens) - 1):
        if tokens[index].lower() in NAME_PARTICLES:
            split_at = index
            break
    first = " ".join(tokens[:split_at])
    last = " ".join(tokens[split_at:])
    return normalize_name(first), normalize_name(last)


def normalize_postal_code(value: object, country_code: str | None = None) -> str | None:
    """Return the postal code cleaned and, for digit-only countries, validated.

    Spreadsheet damage is repaired: a leading apostrophe, a ".0" float suffix, a
    country prefix such as "D-" and, for Germany, a dropped leading zero (1067 ->
    01067). Codes of other countries are upper-cased and whitespace-collapsed only.
    """
    text = _clean_text(value)
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text.lstrip("'").strip().upper())
    text = _POSTAL_COUNTRY_PREFIX.sub("", text)
    if re.fullmatch(r"\d+\.0", text):
        text = text[:-2]

    country = (_clean_text(country_code) or "").upper()
    digits = POSTAL_CODE_DIGITS.get(country)
    if digits is None:
        return text or None
    text = text.replace(" ", "")
    if not text.isdigit():
        return None
    if country == "DE" and len(text) == 4:
        text = "0" + text
    return text if len(text) == digits else None


def normalize_country(value: object) -> str | None:
    """Return the ISO 3166-1 alpha-2 code for a country name or code, or None.

    Accepts alpha-2, alpha-3 and numeric codes and English names (through pycountry),
    plus the German and short names in ``COUNTRY_ALIASES``.
    """
    text = _clean_text(value)
    if text is None:
        return None
    alias = COUNTRY_ALIASES.get(text.lower().rstrip("."))
    if alias is not None:
        return alias
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None
