"""Hard mode: a sample built to break identity resolution, with exact ground truth.

Compared with ``DEFAULT_SETTINGS``, hard mode has

- more households whose members share one e-mail address and street address,
- twins: pairs of persons with one last name, birth date and address, but their own
  first names, e-mail addresses and phone numbers,
- more people who moved, so their later records carry a new address,
- heavy typos in names, e-mail addresses, streets and cities, more swapped names and
  more duplicate CRM contacts.

Every person keeps their own person id, so the ground truth stays exact: household
members and twins are separate persons however alike their records look.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ingestion.generator.emails import _email_names
from ingestion.generator.people import People
from ingestion.generator.pools import CountryPools
from ingestion.generator.settings import GeneratorSettings, NoiseRates

# Share of persons who get a twin, and of persons in a household that shares one
# e-mail address. The default sample has no twins and 1.5% household members.
TWIN_SHARE = 0.03
HOUSEHOLD_SHARE = 0.08
MOVED_SHARE = 0.30
DUPLICATE_CONTACT_SHARE = 0.12

# Roughly five times the default typo rates. Scaled by the busiest source (social
# leads, 1.6), each recipe still sums below 1 as noise.draw_noise requires.
HARD_NOISE = NoiseRates(
    name=MappingProxyType(
        {
            "typo": 0.12,
            "case": 0.05,
            "whitespace": 0.03,
            "transliterate": 0.08,
            "strip_accents": 0.03,
            "nickname": 0.08,
        }
    ),
    email=MappingProxyType({"email_typo": 0.04, "case": 0.08, "whitespace": 0.03}),
    street=MappingProxyType(
        {
            "abbreviate_street": 0.20,
            "transliterate": 0.05,
            "typo": 0.10,
            "case": 0.04,
            "whitespace": 0.03,
        }
    ),
    city=MappingProxyType(
        {"transliterate": 0.06, "typo": 0.08, "case": 0.05, "whitespace": 0.02}
    ),
    swapped_names=0.04,
)


def hard_mode_settings(processes: int = 2) -> GeneratorSettings:
    """Return generator settings for a hard-mode sample, see the module docstring."""
    defaults = GeneratorSettings()
    return GeneratorSettings(
        presence=replace(defaults.presence, crm_duplicate=DUPLICATE_CONTACT_SHARE),
        person=replace(
            defaults.person,
            moved=MOVED_SHARE,
            household_shared_email=HOUSEHOLD_SHARE,
            twins=TWIN_SHARE,
        ),
        noise=HARD_NOISE,
        processes=processes,
    )


def add_twins(
    rng: np.random.Generator,
    people: People,
    pools: list[CountryPools],
    share: float,
) -> np.ndarray:
    """Turn ``share`` of the persons into the twin of another person, in place.

    A twin takes the other person's country, last name, birth date, both addresses
    and move date, and keeps a first name of their own that differs from the
    sibling's. Persons in a shared-e-mail household are left out, so each twin pair
    has two e-mail addresses. Returns an array of (person, twin) index pairs.
    """
    count = round(len(people) * share)
    if count == 0:
        return np.empty((0, 2), dtype=np.int64)

    candidates = _outside_households(people)
    count = min(count, len(candidates) // 2)
    picks = rng.permutation(candidates)[: 2 * count]
    siblings, twins = picks[:count], picks[count:]

    people.country[twins] = people.country[siblings]
    people.last_name[twins] = people.last_name[siblings]
    people.birth_date[twins] = people.birth_date[siblings]
    for homes in (people.home, people.new_home):
        homes.copy_rows(twins, siblings)
    people.moved_at[twins] = people.moved_at[siblings]

    people.first_name[twins] = _other_first_names(rng, people, siblings, twins, pools)
    _give_own_emails(rng, people, twins)
    return np.column_stack([siblings, twins])


def _outside_households(people: People) -> np.ndarray:
    index = np.arange(len(people))
    members = index[people.email_owner != index]
    owners = people.email_owner[members]
    return np.setdiff1d(index, np.concatenate([members, owners]))


def _other_first_names(rng, people, siblings, twins, pools) -> np.ndarray:
    """Draw a first name for each twin that neither equals nor contains the
    sibling's, from the pool of the twin's own sex and country."""
    names = np.empty(len(twins), dtype=object)
    for position, (sibling, twin) in enumerate(zip(siblings, twins, strict=True)):
        pool = pools[people.country[twin]]
        if people.female[twin]:
            choices, weights = pool.female_first_names, pool.female_weights
        else:
            choices, weights = pool.male_first_names, pool.male_weights
        sibling_name = people.first_name[sibling]
        name = sibling_name
        while name in sibling_name or sibling_name in name:
            name = choices[rng.choice(len(choices), p=weights)]
        names[position] = name
    return names


def _give_own_emails(rng, people: People, twins: np.ndarray) -> None:
    """Give each twin a first.last address at their previous domain.

    The address drawn before the twin took the sibling's last name would carry an
    unrelated surname and make the pair easy to tell apart.
    """
    taken = set(people.email.tolist()) | set(people.second_email.tolist())
    first = _email_names(people.first_name[twins])
    last = _email_names(people.last_name[twins])
    for position, twin in enumerate(twins.tolist()):
        domain = str(people.email[twin]).partition("@")[2]
        address = f"{first[position]}.{last[position]}@{domain}"
        while address in taken:
            address = (
                f"{first[position]}.{last[position]}{rng.integers(1, 100)}@{domain}"
            )
        taken.add(address)
        people.email[twin] = address
        people.second_email[twin] = None
