"""SQL expressions that put values into matching form.

Both the identifier graph and the Splink model compare values in this form, so a
placeholder or a spelling variant counts the same way in both.
"""

from __future__ import annotations

# Values that mean "missing", compared after lower-casing and trimming. They apply to
# every identifier type and to the name, street and city columns Splink compares.
PLACEHOLDER_VALUES: tuple[str, ...] = (
    "",
    "-",
    "--",
    ".",
    "0",
    "n/a",
    "n.a.",
    "none",
    "null",
    "nil",
    "unknown",
    "undefined",
    "keine",
    "keine angabe",
    "test",
    "test@test.com",
    "test@test.de",
    "test@example.com",
    "no@email.com",
    "noemail@noemail.com",
    "none@none.com",
    "noreply@noreply.com",
    "x@x.com",
    "xxx@xxx.com",
    "0000000000",
    "1234567890",
    "+490000000000",
)

# A phone number whose last six or more digits are one repeated digit, e.g.
# +49 000 000000 or 0170 1111111, is a placeholder typed to get past a form check.
# Characters other than digits may stand between the digits.
_REPEATED_DIGITS_PATTERN = (
    "(?:" + "|".join(f"{d}(?:[^0-9]*{d}){{5}}" for d in range(10)) + ")[^0-9]*$"
)

# Folded spellings of street-type words and their abbreviations.
STREET_ABBREVIATIONS = (
    ("strasse", "str"),
    ("platz", "pl"),
    ("avenue", "ave"),
    ("road", "rd"),
    ("street", "st"),
)


# Two first names below this Jaro-Winkler similarity, neither containing the other,
# are taken to belong to different persons.
NAME_CONFLICT_JARO_WINKLER = 0.7


def placeholder_condition(value_sql: str, type_sql: str | None = None) -> str:
    """Return a SQL condition that is true when ``value_sql`` is a placeholder.

    Every value is checked against ``PLACEHOLDER_VALUES``. When ``type_sql`` names the
    identifier type column, phone identifiers are also checked for repeated digits.
    """
    listed = ", ".join(_sql_string(v) for v in PLACEHOLDER_VALUES)
    condition = f"lower(trim({value_sql})) in ({listed})"
    if type_sql is None:
        return condition
    # CASE, because DuckDB evaluated the regular expression on every value when the
    # type test was joined to it with AND: 22 s instead of 0.5 s on the 1.9 million
    # identifier values of benchmarks.identity_scale (2 cores).
    return (
        f"(case when {type_sql} = 'phone' "
        f"then {condition} or {_repeated_digits(value_sql)} else {condition} end)"
    )


def phone_placeholder_condition(phone_sql: str) -> str:
    """Return a SQL condition that is true when a phone value is a placeholder."""
    return f"({placeholder_condition(phone_sql)} or {_repeated_digits(phone_sql)})"


def fold_text_sql(column: str) -> str:
    """Return SQL that lower-cases ``column``, folds umlauts and strips punctuation.

    Umlauts become two letters before accents are stripped, because strip_accents
    alone maps ü to u and "Müller" would then differ from the spelling "Mueller".
    Placeholder texts such as 'n/a' become NULL.
    """
    folded = f"lower({column})"
    for umlaut, spelling in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = f"replace({folded}, '{umlaut}', '{spelling}')"
    folded = f"strip_accents({folded})"
    folded = f"trim(regexp_replace({folded}, '[^a-z0-9]+', ' ', 'g'))"
    return (
        f"case when {column} is null or {placeholder_condition(column)} then null "
        f"else nullif({folded}, '') end"
    )


def street_sql(column: str) -> str:
    """Return SQL for a street in matching form: "Hauptstraße 5 a" -> "hauptstr 5a".

    Common street-type words are shortened the way address forms abbreviate them, so
    "Marktplatz 3" and "Marktpl. 3" compare equal.
    """
    street = fold_text_sql(column)
    for word, abbreviation in STREET_ABBREVIATIONS:
        street = f"regexp_replace({street}, '{word}\\b', '{abbreviation}', 'g')"
    return f"regexp_replace({street}, '([0-9]) ([a-z])\\b', '\\1\\2', 'g')"


def first_names_conflict_sql(left: str, right: str) -> str:
    """Return a SQL condition that is true when two records' names cannot be one person.

    ``left`` and ``right`` are table aliases with folded first_name and last_name
    columns. Names conflict when both first names are present, neither contains the
    other (Alex, Alexander), they are not similar (a typo), and the names are not
    swapped between the first and last name fields.
    """
    first_l, first_r = f"{left}.first_name", f"{right}.first_name"
    return f"""(
        {first_l} is not null
        and {first_r} is not null
        and not contains({first_l}, {first_r})
        and not contains({first_r}, {first_l})
        and jaro_winkler_similarity({first_l}, {first_r}) < {NAME_CONFLICT_JARO_WINKLER}
        and {first_l} is distinct from {right}.last_name
        and {first_r} is distinct from {left}.last_name
    )"""


def _repeated_digits(value_sql: str) -> str:
    # One regular expression on the raw value: DuckDB's regexp functions cost about
    # 3 microseconds per value, so removing the separators first doubled the cost.
    return f"regexp_matches({value_sql}, '{_REPEATED_DIGITS_PATTERN}')"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
