"""Accounts, credit cards and loans of the synthetic customers, and their liabilities table.

Balances are a snapshot at the as-of date; the checking balance is set after the transactions exist
(it is sized against the customer's actual spending), everything else here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from spendsense_dagster.lib.synthetic.archetypes import (
    ARCHETYPE_NAMES,
    CARD_BEHAVIOURS,
    INVESTMENT_KINDS,
    LOAN_KINDS,
    OPTIONAL_ACCOUNTS,
    REVOLVING_BEHAVIOURS,
    CustomerProfiles,
    uniform_by_archetype,
)
from spendsense_dagster.lib.synthetic.dates import HistoryCalendar, timestamps_before
from spendsense_dagster.lib.synthetic.merchants import CARD_ISSUERS, numbered_ids

SLOTS = ("checking",) + OPTIONAL_ACCOUNTS
_CARD_SLOTS = ("card1", "card2")
_OVERDUE = CARD_BEHAVIOURS.index("overdue")
_REVOLVING = [CARD_BEHAVIOURS.index(b) for b in REVOLVING_BEHAVIOURS]


@dataclass
class Cards:
    """One entry per credit card account."""

    account: np.ndarray
    owner: np.ndarray
    behaviour: np.ndarray  # index into CARD_BEHAVIOURS
    issuer: np.ndarray  # index into CARD_ISSUERS
    limit: np.ndarray
    balance: np.ndarray
    apr: np.ndarray
    cash_advance_apr: np.ndarray
    statement_balance: np.ndarray
    minimum_payment: np.ndarray
    last_payment: np.ndarray
    monthly_interest: np.ndarray  # 0 for cards paid in full
    overdue: np.ndarray
    due_day: np.ndarray  # day of month payments are made
    statement_day: np.ndarray  # day of month interest is charged
    next_due: np.ndarray  # days after the as-of date (negative: the missed due date of an overdue card)


@dataclass
class Loans:
    account: np.ndarray
    owner: np.ndarray
    kind: np.ndarray  # index into LOAN_KINDS
    principal: np.ndarray
    rate: np.ndarray  # percent
    payment: np.ndarray
    due_day: np.ndarray
    next_due: np.ndarray


@dataclass
class Accounts:
    owner: np.ndarray  # customer index per account
    of: dict[str, np.ndarray]  # slot -> account index per customer, -1 when the customer has none
    type: np.ndarray
    subtype: np.ndarray
    balance: np.ndarray  # current balance; checking is filled in from the transactions
    mask: np.ndarray
    created_at: np.ndarray  # datetime64[s]
    cards: Cards
    loans: Loans


def _next_day_of_month(as_of: date, day: np.ndarray) -> np.ndarray:
    """Days from as_of to the next date (after as_of) falling on `day` (1-28)."""
    this_month = np.array([(date(as_of.year, as_of.month, d) - as_of).days for d in range(1, 29)])
    following = date(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1)
    next_month = np.array([(following + timedelta(days=d - 1) - as_of).days for d in range(1, 29)])
    return np.where(this_month > 0, this_month, next_month)[day - 1]


def _open_cards(
    profiles: CustomerProfiles,
    account_of: dict[str, np.ndarray],
    calendar: HistoryCalendar,
    reliable_days: np.ndarray,
    rng: np.random.Generator,
) -> Cards:
    first = np.flatnonzero(account_of["card1"] >= 0)
    second = np.flatnonzero(account_of["card2"] >= 0)
    owner = np.concatenate([first, second])
    account = np.concatenate([account_of["card1"][first], account_of["card2"][second]])
    order = np.argsort(account, kind="stable")
    owner, account = owner[order], account[order]
    is_first = account_of["card1"][owner] == account
    n = len(owner)

    limit = np.round((1_500 + profiles.monthly_income[owner] * rng.uniform(0.4, 1.6, n)) / 100) * 100
    utilization = uniform_by_archetype(profiles.archetype[owner], "utilization", rng)
    behaviour = profiles.card_behaviour[owner]
    # Only the first card of an overdue customer is overdue; their other card just revolves.
    behaviour = np.where((behaviour == _OVERDUE) & ~is_first, CARD_BEHAVIOURS.index("revolve"), behaviour)
    revolving = np.isin(behaviour, _REVOLVING)
    overdue = behaviour == _OVERDUE

    balance = np.round(utilization * limit, 2)
    apr = np.round(rng.uniform(15.99, 29.99, n), 2)
    cash_advance_apr = np.round(np.minimum(apr + rng.uniform(3, 6, n), 29.99), 2)
    statement_balance = np.round(
        balance * np.where(revolving, rng.uniform(0.96, 1.0, n), rng.uniform(0.7, 1.1, n)), 2
    )
    minimum = np.minimum(
        statement_balance, np.maximum(25.0, np.round(statement_balance * (0.01 + apr / 1200), 2))
    )
    last_payment = np.select(
        [behaviour == CARD_BEHAVIOURS.index("full"), behaviour == CARD_BEHAVIOURS.index("revolve")],
        [statement_balance, np.round(minimum * rng.uniform(1.6, 4.0, n), 2)],
        default=np.round(minimum * np.where(overdue, rng.uniform(1.0, 1.5, n), 1.0), 2),
    )
    monthly_interest = np.where(revolving, np.round(statement_balance * apr / 1200, 2), 0.0)

    due_day = reliable_days[rng.integers(0, len(reliable_days), n)]
    next_due = _next_day_of_month(calendar.as_of, due_day)
    # An overdue card missed a due date 5-23 days ago, on a day of month <= 28 so that it recurs.
    day_of_month_back = np.array([(calendar.as_of - timedelta(days=back)).day for back in range(40)])
    missed_back = rng.integers(5, 21, n)
    missed_back += np.maximum(day_of_month_back[missed_back] - 28, 0)
    due_day = np.where(overdue, day_of_month_back[missed_back], due_day)
    next_due = np.where(overdue, -missed_back, next_due)
    return Cards(
        account=account,
        owner=owner,
        behaviour=behaviour,
        issuer=rng.integers(0, len(CARD_ISSUERS), n),
        limit=limit,
        balance=balance,
        apr=apr,
        cash_advance_apr=cash_advance_apr,
        statement_balance=statement_balance,
        minimum_payment=minimum,
        last_payment=last_payment,
        monthly_interest=monthly_interest,
        overdue=overdue,
        due_day=due_day,
        statement_day=reliable_days[rng.integers(0, len(reliable_days), n)],
        next_due=next_due,
    )


def _open_loans(
    profiles: CustomerProfiles,
    account_of: dict[str, np.ndarray],
    calendar: HistoryCalendar,
    rng: np.random.Generator,
) -> Loans:
    owner = np.flatnonzero(account_of["loan"] >= 0)
    n = len(owner)
    kind = profiles.loan_kind[owner]
    mortgage = np.array(LOAN_KINDS)[kind] == "mortgage"
    principal = np.round(
        np.where(mortgage, rng.uniform(120_000, 480_000, n), rng.uniform(6_000, 60_000, n)), 2
    )
    rate = np.round(np.where(mortgage, rng.uniform(2.75, 7.25, n), rng.uniform(3.5, 8.0, n)), 2)
    monthly_rate = rate / 1200
    # Level payment of a 30-year mortgage or a 10-year student loan on the outstanding principal.
    periods = np.where(mortgage, 360, 120)
    payment = np.round(principal * monthly_rate / (1 - (1 + monthly_rate) ** -periods), 2)
    due_day = rng.integers(1, 29, n)
    return Loans(
        account=account_of["loan"][owner],
        owner=owner,
        kind=kind,
        principal=principal,
        rate=rate,
        payment=payment,
        due_day=due_day,
        next_due=_next_day_of_month(calendar.as_of, due_day),
    )


def open_accounts(
    profiles: CustomerProfiles,
    signed_up_days_before: np.ndarray,
    calendar: HistoryCalendar,
    reliable_days: np.ndarray,
    rng: np.random.Generator,
) -> Accounts:
    customers = len(profiles)
    has = {"checking": np.ones(customers, dtype=bool), **profiles.has}
    owner = np.concatenate([np.flatnonzero(has[s]) for s in SLOTS])
    slot = np.concatenate([np.full(has[s].sum(), i) for i, s in enumerate(SLOTS)])
    order = np.lexsort((slot, owner))
    owner, slot = owner[order], slot[order]
    of = {}
    for i, name in enumerate(SLOTS):
        of[name] = np.full(customers, -1, dtype=np.int64)
        of[name][owner[slot == i]] = np.flatnonzero(slot == i)

    slot_name = np.array(SLOTS)[slot]
    money_market = profiles.money_market[owner]
    investment_kind = np.array(INVESTMENT_KINDS)[profiles.investment_kind[owner]]
    loan_kind = np.array(LOAN_KINDS)[profiles.loan_kind[owner]]
    kind = np.select(
        [
            slot_name == "checking",
            slot_name == "savings",
            np.isin(slot_name, _CARD_SLOTS),
            slot_name == "investment",
            slot_name == "hsa",
        ],
        [
            np.full(len(owner), "checking"),
            np.where(money_market, "money market", "savings"),
            np.full(len(owner), "credit card"),
            investment_kind,
            np.full(len(owner), "hsa"),
        ],
        default=np.where(loan_kind == "mortgage", "mortgage", "student loan"),
    )
    subtype = np.where(kind == "student loan", "student", kind)

    cards = _open_cards(profiles, of, calendar, reliable_days, rng)
    loans = _open_loans(profiles, of, calendar, rng)
    n = len(owner)
    archetype = profiles.archetype[owner]
    investment_balance = np.where(
        archetype == ARCHETYPE_NAMES.index("wealth_builder"),
        rng.uniform(50_000, 900_000, n),
        rng.uniform(2_000, 80_000, n),
    )
    balance = np.select(
        [slot_name == "savings", slot_name == "investment", slot_name == "hsa"],
        [
            uniform_by_archetype(archetype, "savings_balance", rng),
            investment_balance,
            rng.uniform(500, 6_000, n),
        ],
        default=0.0,
    )
    balance[cards.account] = cards.balance
    balance[loans.account] = loans.principal
    return Accounts(
        owner=owner,
        of=of,
        type=kind,
        subtype=subtype,
        balance=np.round(balance, 2),
        mask=rng.integers(0, 10_000, n),
        created_at=timestamps_before(
            calendar.as_of, signed_up_days_before[owner] - rng.integers(0, 200, n), rng
        ),
        cards=cards,
        loans=loans,
    )


def _user_ids(owner: np.ndarray) -> pa.Array:
    """Customers are the first users, so customer i is usr_{i + 1}."""
    return numbered_ids("usr_", owner + 1)


def accounts_table(accounts: Accounts) -> pa.Table:
    n = len(accounts.owner)
    is_card = accounts.type == "credit card"
    is_loan = np.isin(accounts.type, ["mortgage", "student loan"])
    limit = np.zeros(n)
    limit[accounts.cards.account] = accounts.cards.limit
    available = np.round(np.where(is_card, limit - accounts.balance, accounts.balance), 2)
    return pa.table(
        {
            "account_id": numbered_ids("acc_", np.arange(1, n + 1)),
            "user_id": _user_ids(accounts.owner),
            "type": pa.array(accounts.type, pa.string()),
            "subtype": pa.array(accounts.subtype, pa.string()),
            "balance_available": pa.array(available, mask=is_loan),
            "balance_current": pa.array(accounts.balance),
            "balance_limit": pa.array(limit, mask=~is_card),
            "iso_currency_code": pa.array(np.full(n, "USD")),
            "holder_category": pa.array(np.full(n, "personal")),
            "created_at": pa.array(accounts.created_at, pa.timestamp("s")),
            "mask": numbered_ids("", accounts.mask, width=4),
        }
    )


def liabilities_table(accounts: Accounts, as_of: date) -> pa.Table:
    """One row per credit card and loan, in account order."""
    cards, loans = accounts.cards, accounts.loans
    n_cards, n_loans = len(cards.account), len(loans.account)
    account = np.concatenate([cards.account, loans.account])
    order = np.argsort(account, kind="stable")
    null_for_loans = np.full(n_loans, np.nan)
    null_for_cards = np.full(n_cards, np.nan)

    def column(card_values: np.ndarray, loan_values: np.ndarray) -> pa.Array:
        values = np.concatenate([card_values, loan_values])[order]
        return pa.array(values, mask=np.isnan(values))

    next_due = np.concatenate([cards.next_due, loans.next_due])[order]
    return pa.table(
        {
            "liability_id": numbered_ids("liab_", np.arange(1, len(account) + 1)),
            "account_id": numbered_ids("acc_", account[order] + 1),
            "user_id": _user_ids(accounts.owner[account[order]]),
            "liability_type": pa.array(
                np.concatenate([np.full(n_cards, "credit_card"), np.array(LOAN_KINDS)[loans.kind]])[order],
                pa.string(),
            ),
            "apr_purchase": column(cards.apr, null_for_loans),
            "apr_balance_transfer": column(cards.apr, null_for_loans),
            "apr_cash_advance": column(cards.cash_advance_apr, null_for_loans),
            "minimum_payment_amount": column(cards.minimum_payment, loans.payment),
            "last_payment_amount": column(cards.last_payment, loans.payment),
            "is_overdue": pa.array(np.concatenate([cards.overdue, np.zeros(n_loans, dtype=bool)])[order]),
            "next_payment_due_date": pa.array(
                np.datetime64(as_of, "D") + next_due.astype("timedelta64[D]"), pa.date32()
            ),
            "last_statement_balance": column(cards.statement_balance, null_for_loans),
            "interest_rate": column(null_for_cards, loans.rate),
            "created_at": pa.array(accounts.created_at[account[order]], pa.timestamp("s")),
        }
    )
