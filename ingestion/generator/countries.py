"""Countries of the simulated customer base: Faker locale, phone numbering plan, the
spellings CRMs hold for the country, currency, VAT and e-mail providers.

Phone prefixes and subscriber lengths are chosen so that every generated number is
valid for ``phonenumbers`` 9.0: the first subscriber digit comes from
``lead_digits`` because some digit ranges after a prefix are unassigned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Weighted = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PhonePrefix:
    """An area code or mobile prefix, written after the trunk prefix."""

    prefix: str
    subscriber_digits: int
    mobile: bool = False
    lead_digits: str = "2345678"


@dataclass(frozen=True)
class Country:
    code: str
    locale: str
    share: float
    calling_code: str
    trunk_prefix: str
    phone_prefixes: tuple[PhonePrefix, ...]
    crm_spellings: Weighted
    currencies: Weighted
    vat_rate: float
    address_layout: str
    email_domains: Weighted
    language: str


def _prefixes(numbers: str, mobile: bool = False, lead: str = "2345678"):
    """Parse "prefix:digits" pairs separated by spaces into PhonePrefix entries."""
    entries = []
    for pair in numbers.split():
        prefix, digits = pair.split(":")
        entries.append(PhonePrefix(prefix, int(digits), mobile, lead))
    return tuple(entries)


GERMANY = Country(
    code="DE",
    locale="de_DE",
    share=0.56,
    calling_code="49",
    trunk_prefix="0",
    phone_prefixes=_prefixes("30:7 30:8 40:7 89:7 221:7 69:7 711:7 211:7 341:7 351:7")
    + _prefixes("511:7 911:7 421:7 201:7 231:7 228:6 761:6")
    + _prefixes("151:8 152:8 160:7 170:7 171:7 172:7 175:7 176:8 177:8", True)
    + _prefixes("178:8 179:7 157:8 162:7 163:7", True),
    crm_spellings=(("Germany", 0.8), ("Deutschland", 0.14), ("DE", 0.06)),
    currencies=(("EUR", 0.99), ("USD", 0.01)),
    vat_rate=0.19,
    address_layout="street_first",
    email_domains=(
        ("gmx.de", 0.17),
        ("web.de", 0.17),
        ("gmail.com", 0.2),
        ("t-online.de", 0.12),
        ("hotmail.de", 0.04),
        ("yahoo.de", 0.04),
        ("googlemail.com", 0.04),
        ("icloud.com", 0.06),
        ("posteo.de", 0.03),
        ("freenet.de", 0.04),
        ("outlook.de", 0.09),
    ),
    language="de",
)

AUSTRIA = Country(
    code="AT",
    locale="de_AT",
    share=0.13,
    calling_code="43",
    trunk_prefix="0",
    phone_prefixes=_prefixes("1:7 316:6 512:6 662:6 732:6 463:6")
    + _prefixes("664:7 676:7 650:7 660:7 699:8", True),
    crm_spellings=(("Austria", 0.78), ("Österreich", 0.16), ("AT", 0.06)),
    currencies=(("EUR", 0.99), ("USD", 0.01)),
    vat_rate=0.20,
    address_layout="street_first",
    email_domains=(
        ("gmx.at", 0.2),
        ("gmail.com", 0.3),
        ("aon.at", 0.12),
        ("chello.at", 0.05),
        ("a1.net", 0.08),
        ("outlook.com", 0.1),
        ("icloud.com", 0.08),
        ("yahoo.com", 0.07),
    ),
    language="de",
)

SWITZERLAND = Country(
    code="CH",
    locale="de_CH",
    share=0.13,
    calling_code="41",
    trunk_prefix="0",
    phone_prefixes=_prefixes("44:7 43:7 31:7 61:7 21:7 22:7 41:7 71:7")
    + _prefixes("76:7 77:7 78:7 79:7", True),
    crm_spellings=(("Switzerland", 0.75), ("Schweiz", 0.19), ("CH", 0.06)),
    currencies=(("CHF", 0.86), ("EUR", 0.13), ("USD", 0.01)),
    vat_rate=0.081,
    address_layout="street_first",
    email_domains=(
        ("bluewin.ch", 0.25),
        ("gmail.com", 0.3),
        ("gmx.ch", 0.15),
        ("hotmail.com", 0.1),
        ("icloud.com", 0.1),
        ("sunrise.ch", 0.1),
    ),
    language="de",
)

FRANCE = Country(
    code="FR",
    locale="fr_FR",
    share=0.04,
    calling_code="33",
    trunk_prefix="0",
    phone_prefixes=_prefixes("1:8 3:8 4:8")
    + _prefixes("6:8", True, lead="1245678")
    + _prefixes("7:8", True, lead="345678"),
    crm_spellings=(("France", 0.85), ("Frankreich", 0.1), ("FR", 0.05)),
    currencies=(("EUR", 1.0),),
    vat_rate=0.20,
    address_layout="number_comma",
    email_domains=(
        ("orange.fr", 0.25),
        ("gmail.com", 0.35),
        ("free.fr", 0.15),
        ("laposte.net", 0.1),
        ("hotmail.fr", 0.15),
    ),
    language="en",
)

ITALY = Country(
    code="IT",
    locale="it_IT",
    share=0.04,
    calling_code="39",
    trunk_prefix="",
    phone_prefixes=_prefixes("02:8 06:8 011:7")
    + _prefixes("333:7 347:7 320:7 338:7", True),
    crm_spellings=(("Italy", 0.8), ("Italien", 0.1), ("Italia", 0.05), ("IT", 0.05)),
    currencies=(("EUR", 1.0),),
    vat_rate=0.22,
    address_layout="street_comma",
    email_domains=(
        ("libero.it", 0.25),
        ("gmail.com", 0.35),
        ("alice.it", 0.1),
        ("virgilio.it", 0.1),
        ("hotmail.it", 0.2),
    ),
    language="en",
)

UNITED_KINGDOM = Country(
    code="GB",
    locale="en_GB",
    share=0.05,
    calling_code="44",
    trunk_prefix="0",
    phone_prefixes=_prefixes("20:8", lead="3478")
    + _prefixes("161:7 131:7")
    + _prefixes("121:7", lead="234567")
    + _prefixes("7911:6", True, lead="1278")
    + _prefixes("7400:6 7507:6 7824:6", True),
    crm_spellings=(
        ("United Kingdom", 0.75),
        ("UK", 0.1),
        ("Großbritannien", 0.1),
        ("GB", 0.05),
    ),
    currencies=(("GBP", 0.8), ("EUR", 0.18), ("USD", 0.02)),
    vat_rate=0.20,
    address_layout="number_first",
    email_domains=(
        ("gmail.com", 0.35),
        ("hotmail.co.uk", 0.2),
        ("yahoo.co.uk", 0.15),
        ("btinternet.com", 0.15),
        ("outlook.com", 0.15),
    ),
    language="en",
)

NETHERLANDS = Country(
    code="NL",
    locale="nl_NL",
    share=0.05,
    calling_code="31",
    trunk_prefix="0",
    phone_prefixes=_prefixes("20:7 10:7 70:7 30:7")
    + _prefixes("6:8", True, lead="1234568"),
    crm_spellings=(("Netherlands", 0.8), ("Niederlande", 0.12), ("NL", 0.08)),
    currencies=(("EUR", 1.0),),
    vat_rate=0.21,
    address_layout="street_first",
    email_domains=(
        ("gmail.com", 0.35),
        ("hotmail.com", 0.2),
        ("ziggo.nl", 0.15),
        ("kpnmail.nl", 0.15),
        ("outlook.com", 0.15),
    ),
    language="en",
)

COUNTRIES: tuple[Country, ...] = (
    GERMANY,
    AUSTRIA,
    SWITZERLAND,
    FRANCE,
    ITALY,
    UNITED_KINGDOM,
    NETHERLANDS,
)

COUNTRY_CODES = np.array([country.code for country in COUNTRIES], dtype=object)


def weighted_choice(rng: np.random.Generator, options: Weighted, size: int):
    """Draw ``size`` values from (value, weight) pairs. Weights need not sum to 1."""
    values = np.array([value for value, _ in options], dtype=object)
    weights = np.array([weight for _, weight in options], dtype=float)
    return values[rng.choice(len(values), size=size, p=weights / weights.sum())]
