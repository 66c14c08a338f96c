"""Synthetic people: names and emails from seeded Faker pools, consent, demographics, sign-up times."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
from faker import Faker

from spendsense_dagster.lib.synthetic.dates import timestamps_before
from spendsense_dagster.lib.synthetic.merchants import (
    AGE_BAND_WEIGHTS,
    AGE_BANDS,
    REGION_WEIGHTS,
    REGIONS,
    numbered_ids,
)

# Faker is slow per call: draw fixed-size pools once, then combine them with numpy.
_FIRST_NAME_POOL = 600
_LAST_NAME_POOL = 600
_EMPLOYER_POOL = 120
_REVOKED_SHARE = 0.03  # non-consenting customers who granted consent once and revoked it


@dataclass(frozen=True)
class FakerPools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    companies: tuple[str, ...]


@functools.lru_cache(maxsize=4)  # a pure function of the seed; Faker calls are the slow part of small runs
def faker_pools(seed: int) -> FakerPools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return FakerPools(
        first_names=tuple(fake.first_name() for _ in range(_FIRST_NAME_POOL)),
        last_names=tuple(fake.last_name() for _ in range(_LAST_NAME_POOL)),
        email_domains=tuple(sorted({fake.free_email_domain() for _ in range(40)})),
        companies=tuple(fake.company() for _ in range(_EMPLOYER_POOL)),
    )


def _consenting(archetype_of: np.ndarray, consent_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Evenly spaced over customers sorted by archetype, so every archetype gets about the same rate."""
    order = np.lexsort((rng.random(len(archetype_of)), archetype_of))
    position = np.arange(len(order))
    picked = np.floor((position + 1) * consent_rate) > np.floor(position * consent_rate)
    consenting = np.zeros(len(order), dtype=bool)
    consenting[order] = picked
    return consenting


def build_users(
    archetype_of: np.ndarray,
    operators: int,
    as_of: date,
    consent_rate: float,
    pools: FakerPools,
    rng: np.random.Generator,
) -> tuple[pa.Table, np.ndarray]:
    """The users table (customers first, then operators) and each user's sign-up, in days before as_of."""
    customers = len(archetype_of)
    users = customers + operators
    first = np.array(pools.first_names)[rng.integers(0, len(pools.first_names), users)]
    last = np.array(pools.last_names)[rng.integers(0, len(pools.last_names), users)]
    domain = np.array(pools.email_domains)[rng.integers(0, len(pools.email_domains), users)]
    full_name = [f"{f} {n}" for f, n in zip(first, last, strict=True)]
    # The user number makes every email unique; Faker names can carry apostrophes or spaces.
    email = [
        re.sub(r"[^a-z.]", "", f"{f}.{n}".lower()) + f"{i + 1}@{d}"
        for i, (f, n, d) in enumerate(zip(first, last, domain, strict=True))
    ]

    signed_up_days_before = rng.integers(400, 3_000, users)
    consenting = np.zeros(users, dtype=bool)
    consenting[:customers] = _consenting(archetype_of, consent_rate, rng)
    revoked = np.zeros(users, dtype=bool)
    revoked[:customers] = ~consenting[:customers] & (rng.random(customers) < _REVOKED_SHARE)
    granted_days_before = np.where(revoked, rng.integers(100, 300, users), rng.integers(1, 300, users))
    revoked_days_before = granted_days_before - rng.integers(10, 90, users)

    timestamp = pa.timestamp("s")
    table = pa.table(
        {
            "user_id": numbered_ids("usr_", np.arange(1, users + 1)),
            "full_name": pa.array(full_name, pa.string()),
            "email": pa.array(email, pa.string()),
            "created_at": pa.array(timestamps_before(as_of, signed_up_days_before, rng), timestamp),
            "consent_status": pa.array(consenting),
            "consent_granted_at": pa.array(
                timestamps_before(as_of, granted_days_before, rng), timestamp, mask=~(consenting | revoked)
            ),
            "consent_revoked_at": pa.array(
                timestamps_before(as_of, revoked_days_before, rng), timestamp, mask=~revoked
            ),
            "user_type": pa.array(np.where(np.arange(users) < customers, "customer", "operator")),
            "age_band": pa.array(np.array(AGE_BANDS)[rng.choice(len(AGE_BANDS), users, p=AGE_BAND_WEIGHTS)]),
            "region": pa.array(np.array(REGIONS)[rng.choice(len(REGIONS), users, p=REGION_WEIGHTS)]),
        }
    )
    return table, signed_up_days_before
