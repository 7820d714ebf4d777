"""Value pools per country, drawn once from a seeded Faker and then indexed by numpy.

Calling Faker once per row would take minutes for a million persons, so each country
gets fixed pools of first names, last names, streets and (city, postal code) pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from faker import Faker

from ingestion.generator.countries import Country
from ingestion.generator.noise import NICKNAMES

STREET_POOL_SIZE = 600
PLACE_POOL_SIZE = 500

# Common surnames get a higher weight than Faker's uniform lists, so that umlauts and
# namesakes (different persons with the same name) turn up as often as in real data.
COMMON_SURNAMES = {
    "de": [
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Bauer",
        "Richter",
        "Klein",
        "Wolf",
        "Schröder",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Krüger",
        "Hofmann",
        "Hartmann",
        "Lange",
        "Werner",
        "Krause",
        "Köhler",
        "Groß",
        "Huber",
        "Gruber",
        "Maier",
        "Weiß",
        "Böhm",
        "Jäger",
        "Müllner",
        "Strauß",
        "Fuchs",
        "Meier",
        "Keller",
        "Brunner",
        "Frey",
    ],
}
COMMON_NAME_WEIGHT = 12.0
NICKNAMED_FIRST_NAME_WEIGHT = 4.0


@dataclass(frozen=True)
class CountryPools:
    """Pools of one country. Weights are probabilities aligned with their pool."""

    male_first_names: np.ndarray
    male_weights: np.ndarray
    female_first_names: np.ndarray
    female_weights: np.ndarray
    last_names: np.ndarray
    last_name_weights: np.ndarray
    streets: np.ndarray
    cities: np.ndarray
    postal_codes: np.ndarray


def build_pools(countries: tuple[Country, ...], seed: int) -> list[CountryPools]:
    """Build the pools of each country with a Faker seeded from ``seed``."""
    pools = []
    for number, country in enumerate(countries):
        fake = Faker(country.locale)
        fake.seed_instance(seed * 100 + number)
        pools.append(_country_pools(fake, country))
    return pools


def _country_pools(fake: Faker, country: Country) -> CountryPools:
    person = fake.provider("faker.providers.person")
    male, male_weights = _first_names(person.first_names_male)
    female, female_weights = _first_names(person.first_names_female)
    last, last_weights = _last_names(person.last_names, country.language)

    cities = _cities(fake)
    places = np.arange(PLACE_POOL_SIZE) % len(cities)
    postal_codes = [fake.postcode() for _ in range(PLACE_POOL_SIZE)]
    return CountryPools(
        male_first_names=male,
        male_weights=male_weights,
        female_first_names=female,
        female_weights=female_weights,
        last_names=last,
        last_name_weights=last_weights,
        streets=np.array(_unique_values(fake.street_name, STREET_POOL_SIZE), object),
        cities=np.array(cities, dtype=object)[places],
        postal_codes=np.array(postal_codes, dtype=object),
    )


def _first_names(names) -> tuple[np.ndarray, np.ndarray]:
    pool = np.array(sorted(set(names)), dtype=object)
    weights = np.where(np.isin(pool, list(NICKNAMES)), NICKNAMED_FIRST_NAME_WEIGHT, 1.0)
    return pool, weights / weights.sum()


def _last_names(names, language: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the surname pool and weights. Faker's en_GB list comes with weights."""
    if isinstance(names, dict):
        pool = np.array(list(names), dtype=object)
        weights = np.array(list(names.values()), dtype=float)
        return pool, weights / weights.sum()
    common = COMMON_SURNAMES.get(language, [])
    pool = np.array(sorted(set(names) | set(common)), dtype=object)
    weights = np.where(np.isin(pool, common), COMMON_NAME_WEIGHT, 1.0)
    return pool, weights / weights.sum()


def _cities(fake: Faker) -> list[str]:
    """Sample cities from the locale's city list where it has one.

    Faker 40's it_IT ``city()`` iterates a set, so its output depends on Python's
    string hash seed. Sampling a sorted list keeps the pools reproducible.
    """
    cities = getattr(fake.provider("faker.providers.address"), "cities", None)
    if not cities:
        return _unique_values(fake.city, PLACE_POOL_SIZE // 2)
    unique = sorted(set(cities))
    return fake.random.sample(unique, min(len(unique), PLACE_POOL_SIZE // 2))


def _unique_values(make: Callable[[], str], count: int) -> list[str]:
    """Call ``make`` until ``count`` distinct values (or ten times as many calls)."""
    values: dict[str, None] = {}
    for _ in range(count * 10):
        values.setdefault(make().strip())
        if len(values) == count:
            break
    return list(values)
