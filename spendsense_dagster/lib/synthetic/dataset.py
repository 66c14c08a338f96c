"""Synthetic SpendSense data (docs/ingest.md): users, accounts, transactions and liabilities from archetypes.

`generate_dataset` is what `spendsense generate` calls. Everything is drawn from one seeded numpy
generator (and a seeded Faker for names), vectorised over customers: the same seed, user count,
as-of date and format give byte-identical files, and 100,000 users (21.5 M transactions) take a
minute or so on two cores, most of it writing.
See docs/generator.md for the archetypes and the persona coverage they are designed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from spendsense_dagster.lib.synthetic.accounts import accounts_table, liabilities_table, open_accounts
from spendsense_dagster.lib.synthetic.archetypes import ARCHETYPE_NAMES, assign_archetypes, draw_profiles
from spendsense_dagster.lib.synthetic.dates import HistoryCalendar
from spendsense_dagster.lib.synthetic.merchants import MerchantTable
from spendsense_dagster.lib.synthetic.people import build_users, faker_pools
from spendsense_dagster.lib.synthetic.statements import split_feed, write_statements
from spendsense_dagster.lib.synthetic.transactions import (
    generate_transactions,
    monthly_spend,
    transactions_table,
)
from spendsense_dagster.lib.synthetic.writer import FORMATS, write_records

# The original dataset: 75 users of whom 4 are operators (about 5 %).
_OPERATOR_SHARE = 4 / 75


@dataclass(frozen=True)
class SyntheticDataset:
    users: pa.Table
    accounts: pa.Table
    transactions: pa.Table
    liabilities: pa.Table
    archetypes: list[str]  # per customer (the first users, in order), for tests; never written

    def files(self) -> dict[str, pa.Table]:
        """File stem -> table, in the order the files are written."""
        return {
            "synthetic_users": self.users,
            "synthetic_accounts": self.accounts,
            "synthetic_transactions": self.transactions,
            "synthetic_liabilities": self.liabilities,
        }


def operator_count(users: int) -> int:
    """About 5 % operators (4 of 75), at least one when there are two users, never every user."""
    if users < 2:
        return 0
    return min(max(1, round(users * _OPERATOR_SHARE)), users - 1)


def build_dataset(users: int, seed: int, as_of: date, consent_rate: float) -> SyntheticDataset:
    if users < 1:
        raise ValueError(f"users must be at least 1, got {users}")
    if not 0.0 <= consent_rate <= 1.0:
        raise ValueError(f"consent_rate must be between 0 and 1, got {consent_rate}")
    rng = np.random.default_rng(seed)
    calendar = HistoryCalendar(as_of)
    reliable_days = calendar.reliable_days()
    operators = operator_count(users)
    archetype_of = assign_archetypes(users - operators, rng)
    pools = faker_pools(seed)

    users_table, signed_up_days_before = build_users(archetype_of, operators, as_of, consent_rate, pools, rng)
    profiles = draw_profiles(archetype_of, rng)
    accounts = open_accounts(profiles, signed_up_days_before, calendar, reliable_days, rng)
    merchants = MerchantTable()
    transactions = generate_transactions(
        profiles, accounts, calendar, reliable_days, merchants, pools.companies, rng
    )
    # Checking balances in months of the customer's own spending, in both windows (the variable-income
    # archetype needs under a month of buffer whichever window is read).
    spend = np.minimum(
        monthly_spend(transactions, merchants, len(profiles), 30),
        monthly_spend(transactions, merchants, len(profiles), calendar.days),
    )
    accounts.balance[accounts.of["checking"]] = np.round(
        np.maximum(25.0, profiles.checking_months_of_spend * spend), 2
    )

    accounts_records = accounts_table(accounts)
    return SyntheticDataset(
        users=users_table,
        accounts=accounts_records,
        transactions=transactions_table(
            transactions,
            merchants,
            calendar,
            account_ids=accounts_records["account_id"].combine_chunks(),
            user_ids=users_table["user_id"].combine_chunks(),
        ),
        liabilities=liabilities_table(accounts, as_of),
        archetypes=[ARCHETYPE_NAMES[a] for a in archetype_of],
    )


def generate_dataset(
    out_dir: Path,
    users: int = 75,
    seed: int = 42,
    as_of: date | None = None,
    consent_rate: float = 0.30,
    fmt: str = "json",
    statements: bool = False,
) -> dict[str, int]:
    """Write synthetic_{users,accounts,transactions,liabilities}.<fmt> to `out_dir`.

    Returns file name -> record count. `as_of` (the last day of the 180-day history) defaults to
    today in UTC, so identical arguments on the same day give identical bytes. With `statements`,
    a share of the accounts also get CSV exports under statements/ (lib/synthetic/statements.py),
    and the days only those exports hold leave the JSON feed.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    as_of = as_of or datetime.now(UTC).date()
    dataset = build_dataset(users, seed, as_of, consent_rate)
    files = dataset.files()
    if not statements:
        return write_records(files, Path(out_dir), fmt)
    feed, exports = split_feed(dataset.transactions, dataset.accounts, as_of, seed)
    counts = write_records({**files, "synthetic_transactions": feed}, Path(out_dir), fmt)
    return {**counts, **write_statements(exports, Path(out_dir), seed)}
