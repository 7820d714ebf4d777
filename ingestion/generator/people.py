"""True persons: the clean identity behind every generated record.

A ``People`` table stores one row per person as numpy arrays. Source writers pick
rows by person index and add their own noise. The person index becomes the
ground-truth person id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.generator.clock import DAY, TimeWindow, uniform_times
from ingestion.generator.countries import COUNTRIES, Country
from ingestion.generator.emails import draw_emails
from ingestion.generator.phones import draw_phones
from ingestion.generator.pools import CountryPools
from ingestion.generator.settings import PersonRates
from ingestion.generator.templates import format_columns, integer_strings

NOT_MOVED = np.iinfo(np.int64).max
# Share of household members with the e-mail owner's surname (spouses who took the
# name, children). The others keep their own.
SHARED_SURNAME_SHARE = 0.75


@dataclass
class Homes:
    """Street address, postal code and city per person, as object arrays."""

    street: np.ndarray
    postal_code: np.ndarray
    city: np.ndarray

    def copy_rows(self, targets: np.ndarray, sources: np.ndarray) -> None:
        for column in (self.street, self.postal_code, self.city):
            column[targets] = column[sources]


@dataclass
class People:
    """One row per true person. Text columns are object arrays of ``str``.

    ``phone`` contains (calling code, trunk prefix, area code, subscriber) tuples or
    None. ``new_home`` applies to records observed at or after ``moved_at``.
    ``email_owner`` is the person who owns the address in ``email``. It differs from
    the row only for household members who share another person's address.
    """

    country: np.ndarray
    female: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    birth_date: np.ndarray
    email: np.ndarray
    second_email: np.ndarray
    phone: np.ndarray
    home: Homes
    new_home: Homes
    moved_at: np.ndarray
    email_owner: np.ndarray
    consent: np.ndarray
    first_seen: np.ndarray

    def __len__(self) -> int:
        return len(self.country)

    def homes_at(self, persons: np.ndarray, times: np.ndarray) -> Homes:
        """Return each person's address as of the record time."""
        moved = times >= self.moved_at[persons]
        return Homes(
            *(
                np.where(moved, new[persons], old[persons])
                for old, new in zip(
                    _columns(self.home), _columns(self.new_home), strict=True
                )
            )
        )

    def emails_for(self, persons: np.ndarray, use_second: np.ndarray) -> np.ndarray:
        """Return the second address where drawn and present, else the first."""
        second = self.second_email[persons]
        return np.where(
            use_second & np.not_equal(second, None), second, self.email[persons]
        )


def draw_people(
    rng: np.random.Generator,
    size: int,
    pools: list[CountryPools],
    window: TimeWindow,
    rates: PersonRates,
) -> People:
    """Draw ``size`` persons with names, contacts and addresses of their country."""
    shares = np.array([country.share for country in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=size, p=shares / shares.sum())
    members, owners = _households(rng, size, rates.household_shared_email)
    country[members] = country[owners]

    female = rng.random(size) < 0.5
    first_name, last_name = _names(rng, country, female, pools)
    first_seen = uniform_times(rng, window.start, window.end - 7 * DAY, size)
    people = People(
        country=country.astype(np.int8),
        female=female,
        first_name=first_name,
        last_name=last_name,
        birth_date=_birth_dates(rng, size, window),
        email=np.empty(size, dtype=object),
        second_email=np.empty(size, dtype=object),
        phone=draw_phones(rng, country, rates.has_phone, rates.mobile_phone),
        home=_homes(rng, country, pools),
        new_home=_homes(rng, country, pools),
        moved_at=_move_times(rng, first_seen, window, rates.moved),
        email_owner=np.arange(size),
        consent=rng.random(size) < rates.marketing_consent,
        first_seen=first_seen,
    )
    _share_households(rng, people, members, owners, rates)
    return people


def _households(rng, size: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Pick household members and, for each, another person whose e-mail and
    address they share."""
    count = min(round(size * share), size // 2)
    order = rng.permutation(size)
    return order[:count], order[count : 2 * count]


def _share_households(rng, people: People, members, owners, rates) -> None:
    """Draw e-mails, then give household members their owner's address and e-mail."""
    people.email[:], people.second_email[:] = draw_emails(
        rng, people, rates.second_email
    )
    people.email[members] = people.email[owners]
    people.second_email[members] = None
    people.email_owner[members] = owners

    same_surname = rng.random(len(members)) < SHARED_SURNAME_SHARE
    people.last_name[members[same_surname]] = people.last_name[owners[same_surname]]
    for homes in (people.home, people.new_home):
        homes.copy_rows(members, owners)
    people.moved_at[members] = people.moved_at[owners]


def _names(rng, country, female, pools) -> tuple[np.ndarray, np.ndarray]:
    first = np.empty(len(country), dtype=object)
    last = np.empty(len(country), dtype=object)
    for number, pool in enumerate(pools):
        for is_female, names, weights in (
            (False, pool.male_first_names, pool.male_weights),
            (True, pool.female_first_names, pool.female_weights),
        ):
            rows = np.flatnonzero((country == number) & (female == is_female))
            first[rows] = names[rng.choice(len(names), size=len(rows), p=weights)]
        rows = np.flatnonzero(country == number)
        picks = rng.choice(
            len(pool.last_names), size=len(rows), p=pool.last_name_weights
        )
        last[rows] = pool.last_names[picks]
    return first, last


def _birth_dates(rng, size: int, window: TimeWindow) -> np.ndarray:
    """Draw birth dates for adults aged 18 to 90, most of them 28 to 56."""
    age_days = np.minimum(18 + np.abs(rng.normal(24, 14, size)), 90) * 365.25
    end_day = window.end // DAY
    return (end_day - age_days.astype(np.int64)).astype("datetime64[D]")


def _homes(rng, country: np.ndarray, pools: list[CountryPools]) -> Homes:
    size = len(country)
    homes = Homes(*(np.empty(size, dtype=object) for _ in range(3)))
    numbers = _house_numbers(rng, size)
    for index, (spec, pool) in enumerate(zip(COUNTRIES, pools, strict=True)):
        rows = np.flatnonzero(country == index)
        streets = pool.streets[rng.integers(len(pool.streets), size=len(rows))]
        places = rng.integers(len(pool.cities), size=len(rows))
        homes.street[rows] = _street_addresses(streets, numbers[rows], spec)
        homes.postal_code[rows] = pool.postal_codes[places]
        homes.city[rows] = pool.cities[places]
    return homes


def _house_numbers(rng, size: int) -> np.ndarray:
    """Draw house numbers, mostly small, some with a letter ("12a")."""
    numbers = integer_strings(np.minimum(rng.geometric(1 / 25, size=size), 250))
    letters = np.array(["", "a", "b", "c"])[
        rng.choice(4, size=size, p=(0.9, 0.06, 0.03, 0.01))
    ]
    return np.strings.add(numbers, letters)


def _street_addresses(streets, numbers, spec: Country) -> np.ndarray:
    layout = ADDRESS_LAYOUTS[spec.address_layout]
    columns = {"street": streets.astype(str), "number": numbers}
    return format_columns(layout, columns).astype(object)


ADDRESS_LAYOUTS = {
    "street_first": "{street} {number}",
    "street_comma": "{street}, {number}",
    "number_first": "{number} {street}",
    "number_comma": "{number}, {street}",
}


def _move_times(rng, first_seen, window: TimeWindow, share: float) -> np.ndarray:
    """Draw when movers moved, between their first record and the extract date."""
    moved_at = uniform_times(rng, first_seen, window.end)
    moved = rng.random(len(first_seen)) < share
    return np.where(moved, moved_at, NOT_MOVED)


def _columns(homes: Homes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return homes.street, homes.postal_code, homes.city
