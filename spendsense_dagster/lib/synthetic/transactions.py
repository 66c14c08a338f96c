"""Transactions of the synthetic customers: every cadence expanded into events with numpy.

Each `_add_*` function appends one kind of event (pay, rent, subscriptions, card payments, ...) for
all customers at once. Amounts follow the original SpendSense sign: < 0 leaves the account, > 0
arrives. Everyday purchases fill each customer up to 150-300 transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spendsense_dagster.lib.synthetic.accounts import Accounts
from spendsense_dagster.lib.synthetic.archetypes import (
    ARCHETYPE_NAMES,
    CARD_BEHAVIOURS,
    LOAN_KINDS,
    PAY_CADENCES,
    CustomerProfiles,
    per_customer,
)
from spendsense_dagster.lib.synthetic.dates import HistoryCalendar
from spendsense_dagster.lib.synthetic.merchants import (
    CARD_ISSUERS,
    CARD_PAYMENT_RECEIVED,
    GIG_PLATFORMS,
    GROCERY_STORES,
    HOUSEHOLD_BILLS,
    HSA_CONTRIBUTION,
    INTEREST_CHARGE,
    INVESTMENT_TRANSFER_IN,
    INVESTMENT_TRANSFER_OUT,
    LANDLORDS,
    LATE_FEE,
    MORTGAGE_SERVICERS,
    OVERDRAFT_FEE,
    PHONE_CARRIERS,
    SAVINGS_TRANSFER_IN,
    SAVINGS_TRANSFER_OUT,
    SPEND_CATEGORIES,
    STUDENT_LOAN_SERVICERS,
    SUBSCRIPTIONS,
    MerchantTable,
    card_payment,
    employer,
    loan_payment,
    numbered_ids,
)

MIN_TRANSACTIONS, MAX_TRANSACTIONS = 150, 300
_MIN_EVERYDAY_PURCHASES = 25
_PENDING_DAYS = 3  # purchases of the last days may still be pending
_PENDING_SHARE = 0.35
_REFUND_SHARE = 0.03  # of shopping purchases
_NOT_SPEND_PRIMARY = ("TRANSFER_IN", "TRANSFER_OUT", "LOAN_PAYMENTS")
STORE_NUMBERS = range(1_000, 10_000)


@dataclass(frozen=True)
class Transactions:
    customer: np.ndarray
    account: np.ndarray
    offset: np.ndarray  # day in the history, 0 = first day
    amount: np.ndarray
    merchant: np.ndarray  # code in the MerchantTable
    store_number: np.ndarray  # 0: the merchant prints none
    pending: np.ndarray
    seconds: np.ndarray  # time of day of created_at


class EventLog:
    """Events appended block by block; `finish` orders them by customer, day, then insertion."""

    def __init__(self) -> None:
        self._blocks: list[tuple[np.ndarray, ...]] = []

    def add(self, customer, account, offset, amount, merchant, pending=False) -> None:
        customer = np.asarray(customer, dtype=np.int64)
        n = len(customer)
        self._blocks.append(
            (
                customer,
                np.broadcast_to(np.asarray(account, dtype=np.int64), n),
                np.broadcast_to(np.asarray(offset, dtype=np.int64), n),
                np.broadcast_to(np.round(np.asarray(amount, dtype=np.float64), 2), n),
                np.broadcast_to(np.asarray(merchant, dtype=np.int64), n),
                np.broadcast_to(np.asarray(pending, dtype=bool), n),
            )
        )

    def count_per_customer(self, customers: int) -> np.ndarray:
        return sum(
            (np.bincount(block[0], minlength=customers) for block in self._blocks),
            np.zeros(customers, dtype=np.int64),
        )

    def finish(self, store_numbered: np.ndarray, rng: np.random.Generator) -> Transactions:
        customer, account, offset, amount, merchant, pending = (
            np.concatenate(column) for column in zip(*self._blocks, strict=True)
        )
        # One sortable key: customer, then day, then insertion order (stable and deterministic).
        order = np.argsort(customer * (offset.max(initial=0) + 1) + offset, kind="stable")
        customer, account, offset = customer[order], account[order], offset[order]
        amount, merchant, pending = amount[order], merchant[order], pending[order]
        n = len(customer)
        # A customer's usual branch of a chain, sometimes another one nearby.
        nearby = rng.random(n) < 0.2
        branch = (customer * 7_919 + merchant * 104_729 + nearby * 31_337) % len(STORE_NUMBERS)
        store = STORE_NUMBERS.start + branch
        return Transactions(
            customer=customer.astype(np.int32),
            account=account.astype(np.int32),
            offset=offset.astype(np.int16),
            amount=amount,
            merchant=merchant.astype(np.int32),
            store_number=np.where(store_numbered[merchant], store, 0).astype(np.int32),
            pending=pending,
            seconds=rng.integers(0, 86_400, n).astype(np.int32),
        )


@dataclass(frozen=True)
class _Context:
    profiles: CustomerProfiles
    accounts: Accounts
    calendar: HistoryCalendar
    reliable_days: np.ndarray
    merchants: MerchantTable
    companies: tuple[str, ...]  # employer names (Faker)
    log: EventLog
    rng: np.random.Generator

    @property
    def settled_recently(self) -> np.ndarray:
        """Drift (docs/generator.md): every other subscription-heavy customer (in customer order, no
        random draw) set up their household, bills and subscriptions NEW_SUBSCRIPTIONS_DAYS before the
        as-of date. As of that date they still have the three charges per stream that recurring-stream
        detection needs in its 90-day look-back; a month or more earlier they have fewer, so a
        backfill sees them become subscription_heavy."""
        recent = np.zeros(len(self.profiles), dtype=bool)
        recent[
            np.flatnonzero(self.profiles.archetype == ARCHETYPE_NAMES.index("subscription_heavy"))[::2]
        ] = True
        return recent

    def since_settling(self, customer: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Which monthly events (customer, day offset per event) happen: all, except a recently
        settled customer's before they settled."""
        return ~self.settled_recently[customer] | (offset >= self.calendar.days - NEW_SUBSCRIPTIONS_DAYS)

    def reliable_day(self, n: int) -> np.ndarray:
        return self.reliable_days[self.rng.integers(0, len(self.reliable_days), n)]

    def pick(self, merchants, n: int) -> np.ndarray:
        codes = self.merchants.codes(merchants)
        return codes[self.rng.integers(0, len(codes), n)]

    def spending_account(self, customer: np.ndarray) -> np.ndarray:
        """Card or checking per purchase: a card with the archetype's probability, when there is one."""
        of = self.accounts.of
        card = np.where(
            (of["card2"][customer] >= 0) & (self.rng.random(len(customer)) < 0.4),
            of["card2"][customer],
            of["card1"][customer],
        )
        on_card = (card >= 0) & (self.rng.random(len(customer)) < self.profiles.card_spend_share[customer])
        return np.where(on_card, card, of["checking"][customer])

    def monthly(self, customer: np.ndarray, day: np.ndarray, account, amount, merchant) -> None:
        """A charge (or deposit) on the same day every month; per-stream arrays are indexed per event."""
        rows, offset = self.calendar.monthly(day)

        keep = self.since_settling(customer[rows], offset)
        rows, offset = rows[keep], offset[keep]

        def per_event(value):
            return np.asarray(value)[rows] if np.ndim(value) else value

        self.log.add(customer[rows], per_event(account), offset, per_event(amount), per_event(merchant))


def _add_payroll(ctx: _Context) -> None:
    p, rng, cal = ctx.profiles, ctx.rng, ctx.calendar
    checking = ctx.accounts.of["checking"]
    cadence = np.array(PAY_CADENCES)[p.pay_cadence]
    employers = ctx.merchants.codes([employer(c) for c in ctx.companies])
    paid_by = employers[rng.integers(0, len(employers), len(p))]
    friday_back = (cal.as_of.weekday() - 4) % 7  # regular pay lands on Fridays

    def deposit(who: np.ndarray, rows: np.ndarray, offset: np.ndarray, per_month_share: float) -> None:
        customer = who[rows]
        jitter = rng.uniform(0.98, 1.02, len(rows))
        ctx.log.add(
            customer,
            checking[customer],
            offset,
            p.monthly_income[customer] * per_month_share * jitter,
            paid_by[customer],
        )

    weekly = np.flatnonzero(cadence == "weekly")
    deposit(weekly, *cal.every(7, np.full(len(weekly), friday_back)), 12 / 52)
    biweekly = np.flatnonzero(cadence == "biweekly")
    deposit(biweekly, *cal.every(14, friday_back + 7 * rng.integers(0, 2, len(biweekly))), 12 / 26)
    semi_monthly = np.flatnonzero(cadence == "semi_monthly")
    for day in (1, 15):
        deposit(semi_monthly, *cal.monthly(np.full(len(semi_monthly), day)), 1 / 2)
    monthly = np.flatnonzero(cadence == "monthly")
    deposit(monthly, *cal.monthly(ctx.reliable_day(len(monthly))), 1.0)

    # Gig work: lump sums 48-62 days apart, the latest within the last 20 days, so the 90-day
    # look-back of the 30-day window always holds two of them.
    gig = np.flatnonzero(cadence == "gig")
    rows, offset = cal.backwards(rng.integers(1, 21, len(gig)), rng.integers(48, 63, (len(gig), 4)))
    customer = gig[rows]
    platform = ctx.pick(GIG_PLATFORMS, len(p))
    ctx.log.add(
        customer,
        checking[customer],
        offset,
        p.monthly_income[customer] * 55 / 30.4 * rng.uniform(0.6, 1.4, len(rows)),
        platform[customer],
    )


def _add_housing_and_bills(ctx: _Context) -> None:
    p, rng, accounts = ctx.profiles, ctx.rng, ctx.accounts
    n = len(p)
    checking = accounts.of["checking"]
    customers = np.arange(n)

    loans = accounts.loans
    mortgage = np.array(LOAN_KINDS)[loans.kind] == "mortgage"
    servicer = np.array(
        [
            ctx.merchants.code(loan_payment(s, kind))
            for kind, servicers in (
                ("mortgage", MORTGAGE_SERVICERS),
                ("student_loan", STUDENT_LOAN_SERVICERS),
            )
            for s in servicers
        ]
    ).reshape(2, -1)
    loan_merchant = servicer[loans.kind, rng.integers(0, servicer.shape[1], len(loans.owner))]
    ctx.monthly(loans.owner, loans.due_day, checking[loans.owner], -loans.payment, loan_merchant)

    renters = np.setdiff1d(customers, loans.owner[mortgage])
    rent = np.round(p.monthly_income[renters] * rng.uniform(0.22, 0.33, len(renters)) / 5) * 5
    ctx.monthly(
        renters,
        np.ones(len(renters), dtype=np.int64),
        checking[renters],
        -rent,
        ctx.pick(LANDLORDS, len(renters)),
    )
    ctx.monthly(
        customers,
        ctx.reliable_day(n),
        checking,
        -np.round(rng.uniform(45, 120, n), 2),
        ctx.pick(PHONE_CARRIERS, n),
    )

    household = per_customer(p.archetype, "household_bills")
    for merchants, typical, spread in HOUSEHOLD_BILLS:
        payer = np.flatnonzero(household & (rng.random(n) < 0.7))
        base = typical * rng.uniform(0.7, 1.4, len(payer))
        rows, offset = ctx.calendar.monthly(ctx.reliable_day(len(payer)))
        amount = base[rows] * np.exp(spread * rng.standard_normal(len(rows)))
        merchant = ctx.pick(merchants, len(payer))[rows]
        keep = ctx.since_settling(payer[rows], offset)
        rows, offset, amount, merchant = rows[keep], offset[keep], amount[keep], merchant[keep]
        ctx.log.add(payer[rows], checking[payer[rows]], offset, -amount, merchant)


NEW_SUBSCRIPTIONS_DAYS = 100


def _add_subscriptions(ctx: _Context) -> None:
    p, rng = ctx.profiles, ctx.rng
    most = int(p.subscriptions.max(initial=0))
    if most == 0:
        return
    # Distinct services per customer: the first k of a random permutation of the catalog.
    chosen = np.argsort(rng.random((len(p), len(SUBSCRIPTIONS))), axis=1)[:, :most]
    customer, slot = np.nonzero(np.arange(most) < p.subscriptions[:, None])
    service = chosen[customer, slot]
    codes = ctx.merchants.codes([s.merchant for s in SUBSCRIPTIONS])
    prices = np.array([s.price for s in SUBSCRIPTIONS])
    card = ctx.accounts.of["card1"][customer]
    account = np.where(
        (card >= 0) & (rng.random(len(customer)) < 0.75), card, ctx.accounts.of["checking"][customer]
    )
    ctx.monthly(customer, ctx.reliable_day(len(customer)), account, -prices[service], codes[service])


def _add_groceries(ctx: _Context) -> None:
    """A weekly shop at the usual store on varying days and for varying amounts, plus top-ups."""
    p, rng, cal = ctx.profiles, ctx.rng, ctx.calendar
    n = len(p)
    typical = 35 + p.monthly_income * 0.012
    usual = ctx.pick(GROCERY_STORES, n)
    rows, offset = cal.every(7, rng.integers(0, 7, n))
    offset = np.clip(offset + rng.integers(-2, 3, len(rows)), 0, cal.days - 1)
    customer = rows
    amount = typical[customer] * np.exp(0.5 * rng.standard_normal(len(rows)))
    ctx.log.add(customer, ctx.spending_account(customer), offset, -np.maximum(amount, 3.0), usual[customer])

    top_ups = rng.poisson(5, n)
    customer = np.repeat(np.arange(n), top_ups)
    amount = typical[customer] * 0.4 * np.exp(0.8 * rng.standard_normal(len(customer)))
    ctx.log.add(
        customer,
        ctx.spending_account(customer),
        rng.integers(0, cal.days, len(customer)),
        -np.maximum(amount, 2.0),
        ctx.pick(GROCERY_STORES, len(customer)),
    )


def _add_savings_and_investing(ctx: _Context) -> None:
    p, rng = ctx.profiles, ctx.rng
    of = ctx.accounts.of
    moves = (
        (p.monthly_savings_transfer, "savings", SAVINGS_TRANSFER_OUT, SAVINGS_TRANSFER_IN),
        (p.monthly_investment_transfer, "investment", INVESTMENT_TRANSFER_OUT, INVESTMENT_TRANSFER_IN),
    )
    for monthly_amount, destination, out_merchant, in_merchant in moves:
        saver = np.flatnonzero(monthly_amount > 0)
        amount = np.round(monthly_amount[saver] / 25) * 25  # a standing order of a round sum
        day = ctx.reliable_day(len(saver))
        ctx.monthly(saver, day, of["checking"][saver], -amount, ctx.merchants.code(out_merchant))
        ctx.monthly(saver, day, of[destination][saver], amount, ctx.merchants.code(in_merchant))
    # HSA contributions come straight from payroll: only the HSA side shows.
    holder = np.flatnonzero(of["hsa"] >= 0)
    ctx.monthly(
        holder,
        ctx.reliable_day(len(holder)),
        of["hsa"][holder],
        np.round(rng.uniform(100, 300, len(holder))),
        ctx.merchants.code(HSA_CONTRIBUTION),
    )


def _rank_from_latest(rows: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """0 for each row's latest event, 1 for the one before, ..."""
    order = np.lexsort((-offset, rows))
    sorted_rows = rows[order]
    group_start = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows)) - group_start
    return rank


def _add_card_activity(ctx: _Context) -> None:
    """Monthly payments from checking, interest on revolving balances, late fees on overdue cards."""
    cards, rng, cal = ctx.accounts.cards, ctx.rng, ctx.calendar
    checking = ctx.accounts.of["checking"][cards.owner]
    rows, offset = cal.monthly(cards.due_day)
    rank = _rank_from_latest(rows, offset)
    keep = ~(cards.overdue[rows] & (rank == 0))  # an overdue card missed its latest due date
    rows, offset, rank = rows[keep], offset[keep], rank[keep] - cards.overdue[rows[keep]]
    behaviour = np.array(CARD_BEHAVIOURS)[cards.behaviour[rows]]
    spread = np.select([behaviour == "full", behaviour == "minimum"], [0.25, 0.0], default=0.1)
    jitter = np.where(rank == 0, 1.0, 1 + spread * rng.uniform(-1, 1, len(rows)))
    amount = np.round(cards.last_payment[rows] * jitter, 2)
    issuer_merchant = ctx.merchants.codes([card_payment(issuer) for issuer in CARD_ISSUERS])
    ctx.log.add(cards.owner[rows], checking[rows], offset, -amount, issuer_merchant[cards.issuer[rows]])
    ctx.log.add(
        cards.owner[rows], cards.account[rows], offset, amount, ctx.merchants.code(CARD_PAYMENT_RECEIVED)
    )

    revolving = np.flatnonzero(cards.monthly_interest > 0)
    rows, offset = cal.monthly(cards.statement_day[revolving])
    card = revolving[rows]
    ctx.log.add(
        cards.owner[card],
        cards.account[card],
        offset,
        -cards.monthly_interest[card] * rng.uniform(0.97, 1.03, len(rows)),
        ctx.merchants.code(INTEREST_CHARGE),
    )

    overdue = np.flatnonzero(cards.overdue)
    ctx.log.add(
        cards.owner[overdue],
        cards.account[overdue],
        cal.days - 1 + cards.next_due[overdue] + rng.integers(1, 4, len(overdue)),
        -rng.choice([29.0, 39.0, 40.0], len(overdue)),
        ctx.merchants.code(LATE_FEE),
    )


def _add_overdrafts(ctx: _Context) -> None:
    p, rng = ctx.profiles, ctx.rng
    customer = np.repeat(np.arange(len(p)), np.where(p.overdraft, rng.integers(1, 4, len(p)), 0))
    ctx.log.add(
        customer,
        ctx.accounts.of["checking"][customer],
        rng.integers(0, ctx.calendar.days, len(customer)),
        -35.0,
        ctx.merchants.code(OVERDRAFT_FEE),
    )


def _add_everyday_purchases(ctx: _Context) -> None:
    """Coffee, dining, shopping, gas, ...: enough to bring every customer to 150-300 transactions."""
    p, rng, cal = ctx.profiles, ctx.rng, ctx.calendar
    n = len(p)
    so_far = ctx.log.count_per_customer(n)
    target = rng.integers(MIN_TRANSACTIONS + 15, MAX_TRANSACTIONS - 9, n)
    count = np.clip(target - so_far, _MIN_EVERYDAY_PURCHASES, MAX_TRANSACTIONS - so_far)
    customer = np.repeat(np.arange(n), count)
    m = len(customer)

    weights = np.array([c.weight for c in SPEND_CATEGORIES])
    category = rng.choice(len(SPEND_CATEGORIES), m, p=weights / weights.sum())
    # Merchants of all categories in one flat array: category i owns [first[i], first[i] + size[i]).
    flat = ctx.merchants.codes([merchant for c in SPEND_CATEGORIES for merchant in c.merchants])
    size = np.array([len(c.merchants) for c in SPEND_CATEGORIES])
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    merchant = flat[first[category] + (rng.random(m) * size[category]).astype(np.int64)]
    typical = np.array([c.typical_amount for c in SPEND_CATEGORIES])[category]
    spread = np.array([c.spread for c in SPEND_CATEGORIES])[category]
    # Richer customers spend more per purchase, less than proportionally.
    scale = (p.monthly_income[customer] / 5_000) ** 0.4
    amount = -np.maximum(typical * scale * np.exp(spread * rng.standard_normal(m)), 1.0)
    shopping = category == [c.key for c in SPEND_CATEGORIES].index("shopping")
    amount = np.where(shopping & (rng.random(m) < _REFUND_SHARE), -amount, amount)
    offset = rng.integers(0, cal.days, m)
    pending = (offset >= cal.days - _PENDING_DAYS) & (rng.random(m) < _PENDING_SHARE)
    ctx.log.add(customer, ctx.spending_account(customer), offset, amount, merchant, pending)


def generate_transactions(
    profiles: CustomerProfiles,
    accounts: Accounts,
    calendar: HistoryCalendar,
    reliable_days: np.ndarray,
    merchants: MerchantTable,
    companies: tuple[str, ...],
    rng: np.random.Generator,
) -> Transactions:
    ctx = _Context(profiles, accounts, calendar, reliable_days, merchants, companies, EventLog(), rng)
    _add_payroll(ctx)
    _add_housing_and_bills(ctx)
    _add_subscriptions(ctx)
    _add_groceries(ctx)
    _add_savings_and_investing(ctx)
    _add_card_activity(ctx)
    _add_overdrafts(ctx)
    _add_everyday_purchases(ctx)
    store_numbered = np.array(merchants.columns()["store_numbered"], dtype=bool)
    return ctx.log.finish(store_numbered, rng)


def monthly_spend(
    transactions: Transactions, merchants: MerchantTable, customers: int, days: int
) -> np.ndarray:
    """Average monthly spend per customer over the last `days` (what the features count as spend)."""
    primary = np.array(merchants.columns()["category_primary"])
    is_spend = ~np.isin(primary, _NOT_SPEND_PRIMARY)[transactions.merchant]
    first_day = transactions.offset.max(initial=0) - days + 1
    counted = (
        is_spend & (transactions.amount < 0) & ~transactions.pending & (transactions.offset >= first_day)
    )
    spend = np.bincount(
        transactions.customer[counted], weights=-transactions.amount[counted], minlength=customers
    )
    return spend / (days / 30)


def _dictionary(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    """Strings by code without materialising one string per row (cheap for millions of rows)."""
    unique, index = np.unique(np.array(values), return_inverse=True)
    return pa.DictionaryArray.from_arrays(pa.array(index[codes].astype(np.int32)), pa.array(unique))


def _merchant_names(t: Transactions, merchants: MerchantTable) -> pa.DictionaryArray:
    """Printed merchant names ("WALGREENS #1234") as a dictionary of every name a store number can form."""
    columns = merchants.columns()
    base = pa.array(columns["merchant_base_name"])
    numbered = np.flatnonzero(columns["store_numbered"])
    slot = np.full(len(base), -1)
    slot[numbered] = np.arange(len(numbered))
    stores = np.arange(STORE_NUMBERS.start, STORE_NUMBERS.stop)
    with_store = pc.binary_join_element_wise(
        base.take(np.repeat(numbered, len(stores))), numbered_ids("#", np.tile(stores, len(numbered)), 4), " "
    )
    index = np.where(
        t.store_number > 0,
        len(base) + slot[t.merchant] * len(stores) + t.store_number - STORE_NUMBERS.start,
        t.merchant,
    )
    return pa.DictionaryArray.from_arrays(
        pa.array(index.astype(np.int32)), pa.concat_arrays([base, with_store])
    )


def transactions_table(
    transactions: Transactions,
    merchants: MerchantTable,
    calendar: HistoryCalendar,
    account_ids: pa.Array,
    user_ids: pa.Array,
) -> pa.Table:
    t = transactions
    columns = merchants.columns()
    epoch_days = calendar.epoch_days(t.offset.astype(np.int64))
    created = epoch_days.astype(np.int64) * 86_400 + t.seconds
    return pa.table(
        {
            "transaction_id": numbered_ids("txn_", np.arange(1, len(t.amount) + 1), width=9),
            "account_id": pa.DictionaryArray.from_arrays(pa.array(t.account), account_ids),
            "user_id": pa.DictionaryArray.from_arrays(pa.array(t.customer), user_ids),
            "date": pa.array(epoch_days, pa.date32()),
            "amount": pa.array(t.amount),
            "merchant_name": _merchant_names(t, merchants),
            "merchant_entity_id": _dictionary(t.merchant, columns["merchant_entity_id"]),
            "payment_channel": _dictionary(t.merchant, columns["payment_channel"]),
            "category_primary": _dictionary(t.merchant, columns["category_primary"]),
            "category_detailed": _dictionary(t.merchant, columns["category_detailed"]),
            "pending": pa.array(t.pending),
            "created_at": pa.array(created, pa.timestamp("s")),
        }
    )
