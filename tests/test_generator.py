"""The synthetic data generator (docs/ingest.md): determinism, shape, formats, and persona coverage.

The persona check re-implements docs/features.md in plain Python (an approximation of the dbt models) so
the generator's archetypes can be tested without the warehouse.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from spendsense_dagster.lib.synthetic.dataset import build_dataset, generate_dataset, operator_count
from spendsense_dagster.lib.synthetic.people import faker_pools
from spendsense_dagster.lib.synthetic.transactions import NEW_SUBSCRIPTIONS_DAYS

AS_OF = date(2025, 6, 30)
FILES = ("synthetic_users", "synthetic_accounts", "synthetic_transactions", "synthetic_liabilities")
PERSONAS = ("wealth_builder", "high_utilization", "savings_builder", "variable_income", "subscription_heavy")


def _load(out_dir: Path, fmt: str = "json") -> dict[str, list[dict]]:
    """Records of each file; NDJSON and Parquet read back with DuckDB, timestamps and dates as text."""
    records = {}
    for stem in FILES:
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "json":
            records[stem] = json.loads(path.read_text())
        elif fmt == "ndjson":
            records[stem] = [json.loads(line) for line in path.read_text().splitlines()]
        else:
            con = duckdb.connect()
            cursor = con.execute(f"select * from read_parquet('{path}')")
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            con.close()
            records[stem] = [
                {k: (v.isoformat() if isinstance(v, date) else v) for k, v in zip(names, row, strict=True)}
                for row in rows
            ]
    return records


@pytest.fixture(scope="module")
def default_dataset(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out_dir = tmp_path_factory.mktemp("default")
    return out_dir, generate_dataset(out_dir, as_of=AS_OF)


# --- determinism ------------------------------------------------------------------------------


def _file_bytes(out_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}


@pytest.mark.parametrize("fmt", ["json", "ndjson", "parquet"])
def test_same_arguments_give_identical_bytes(tmp_path, fmt):
    first = generate_dataset(tmp_path / "a", users=20, seed=7, as_of=AS_OF, fmt=fmt)
    faker_pools.cache_clear()  # draw the Faker names again, as a new process would
    second = generate_dataset(tmp_path / "b", users=20, seed=7, as_of=AS_OF, fmt=fmt)
    assert first == second
    assert _file_bytes(tmp_path / "a") == _file_bytes(tmp_path / "b")
    assert sorted(first) == sorted(f"{stem}.{fmt}" for stem in FILES)


def test_different_seed_or_date_gives_different_data(tmp_path):
    generate_dataset(tmp_path / "seed7", users=20, seed=7, as_of=AS_OF)
    generate_dataset(tmp_path / "seed8", users=20, seed=8, as_of=AS_OF)
    generate_dataset(tmp_path / "later", users=20, seed=7, as_of=AS_OF + timedelta(days=1))
    seed7, seed8, later = (_file_bytes(tmp_path / d) for d in ("seed7", "seed8", "later"))
    for name in seed7:
        assert seed7[name] != seed8[name], name
    assert seed7["synthetic_transactions.json"] != later["synthetic_transactions.json"]


def test_rewriting_in_another_format_replaces_the_old_files(tmp_path):
    generate_dataset(tmp_path, users=5, as_of=AS_OF)
    generate_dataset(tmp_path, users=5, as_of=AS_OF, fmt="ndjson")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{stem}.ndjson" for stem in FILES)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="format"):
        generate_dataset(tmp_path, users=5, as_of=AS_OF, fmt="csv")
    with pytest.raises(ValueError, match="users"):
        generate_dataset(tmp_path, users=0, as_of=AS_OF)
    with pytest.raises(ValueError, match="consent_rate"):
        generate_dataset(tmp_path, users=5, as_of=AS_OF, consent_rate=1.5)


# --- shape of the default dataset ---------------------------------------------------------------


def test_default_users_operators_and_consent(default_dataset):
    out_dir, counts = default_dataset
    users = _load(out_dir)["synthetic_users"]
    assert counts["synthetic_users.json"] == len(users) == 75
    types = Counter(u["user_type"] for u in users)
    assert types == {"customer": 71, "operator": 4}
    assert len({u["user_id"] for u in users}) == len({u["email"] for u in users}) == 75
    customers = [u for u in users if u["user_type"] == "customer"]
    consenting = [u for u in customers if u["consent_status"]]
    assert len(consenting) == math.floor(71 * 0.30)
    assert all(u["consent_granted_at"] for u in consenting)
    assert all(
        u["consent_granted_at"] is None or u["consent_revoked_at"] for u in customers if u not in consenting
    )
    assert {u["age_band"] for u in users} <= {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert {u["region"] for u in users} <= {"Northeast", "Midwest", "South", "West"}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", u["created_at"]) for u in users)


def test_archetype_mix_is_exact_whatever_the_seed():
    """Largest-remainder shares, not sampling: persona coverage cannot depend on luck."""
    expected = {
        "wealth_builder": 9,
        "high_utilization": 18,
        "savings_builder": 12,
        "variable_income": 10,
        "subscription_heavy": 12,
        "general_wellness": 10,
    }
    for seed in (1, 42):
        assert Counter(build_dataset(75, seed, AS_OF, 0.3).archetypes) == expected


def test_operator_share_scales():
    assert [operator_count(n) for n in (1, 2, 20, 75, 1_000)] == [0, 1, 1, 4, 53]


def test_accounts_and_liabilities(default_dataset):
    out_dir, _ = default_dataset
    data = _load(out_dir)
    customers = {u["user_id"] for u in data["synthetic_users"] if u["user_type"] == "customer"}
    accounts = data["synthetic_accounts"]
    per_user = defaultdict(list)
    for account in accounts:
        per_user[account["user_id"]].append(account)
    assert set(per_user) == customers  # operators hold no accounts
    assert all(2 <= len(a) <= 4 for a in per_user.values())
    assert all(sum(a["type"] == "checking" for a in user) == 1 for user in per_user.values())
    share = {
        kind: sum(any(a["type"] in kinds for a in user) for user in per_user.values()) / len(per_user)
        for kind, kinds in (
            ("savings", {"savings", "money market"}),
            ("card", {"credit card"}),
            ("investment", {"brokerage", "401k", "ira"}),
        )
    }
    assert (
        0.45 <= share["savings"] <= 0.75
        and 0.7 <= share["card"] <= 0.95
        and 0.2 <= share["investment"] <= 0.45
    )
    assert all(
        re.fullmatch(r"acc_\d{6}", a["account_id"]) and re.fullmatch(r"\d{4}", a["mask"]) for a in accounts
    )
    assert {a["iso_currency_code"] for a in accounts} == {"USD"}

    cards = {a["account_id"]: a for a in accounts if a["type"] == "credit card"}
    assert all(a["balance_limit"] > 0 for a in cards.values())
    utilization = [a["balance_current"] / a["balance_limit"] for a in cards.values()]
    assert min(utilization) < 0.15 and max(utilization) > 0.8
    liabilities = data["synthetic_liabilities"]
    card_liabilities = [li for li in liabilities if li["liability_type"] == "credit_card"]
    assert sorted(li["account_id"] for li in card_liabilities) == sorted(cards)
    assert all(10 < li["apr_purchase"] < 30 and li["minimum_payment_amount"] > 0 for li in card_liabilities)
    assert any(li["is_overdue"] for li in card_liabilities)
    loans = [li for li in liabilities if li["liability_type"] != "credit_card"]
    assert loans and all(li["interest_rate"] > 0 and li["apr_purchase"] is None for li in loans)
    assert {li["liability_type"] for li in loans} == {"mortgage", "student_loan"}


def test_transactions_counts_dates_and_amounts(default_dataset):
    out_dir, counts = default_dataset
    data = _load(out_dir)
    transactions = data["synthetic_transactions"]
    assert counts["synthetic_transactions.json"] == len(transactions)
    owner = {a["account_id"]: a["user_id"] for a in data["synthetic_accounts"]}
    assert all(owner[t["account_id"]] == t["user_id"] for t in transactions)
    per_user = Counter(t["user_id"] for t in transactions)
    assert len(per_user) == 71 and all(150 <= n <= 300 for n in per_user.values())
    assert len({t["transaction_id"] for t in transactions}) == len(transactions)
    days = {date.fromisoformat(t["date"]) for t in transactions}
    assert min(days) == AS_OF - timedelta(days=179) and max(days) == AS_OF
    assert all(math.isfinite(t["amount"]) and t["amount"] != 0 for t in transactions)
    assert all(round(t["amount"], 2) == t["amount"] for t in transactions)
    pending = [t for t in transactions if t["pending"]]
    assert 0 < len(pending) < 0.02 * len(transactions)
    assert all(date.fromisoformat(t["date"]) > AS_OF - timedelta(days=3) for t in pending)
    assert any(re.search(r" #\d{4}$", t["merchant_name"]) for t in transactions)
    payroll = [t for t in transactions if t["category_detailed"] == "INCOME_WAGES"]
    assert payroll and all(t["amount"] > 0 and t["merchant_name"].endswith("PAYROLL") for t in payroll)


def test_income_range(default_dataset):
    out_dir, _ = default_dataset
    transactions = _load(out_dir)["synthetic_transactions"]
    income = Counter()
    for t in transactions:
        if t["category_primary"] == "INCOME":
            income[t["user_id"]] += t["amount"] / 6
    assert len(income) == 71
    assert 1_500 < min(income.values()) < 3_000 and 12_000 < max(income.values()) < 16_500


def test_cadences_are_real(default_dataset):
    """Subscriptions on a fixed day at a fixed price, steady payroll, lumpy gig pay, paired transfers."""
    out_dir, _ = default_dataset
    data = _load(out_dir)
    streams = defaultdict(list)
    for t in data["synthetic_transactions"]:
        streams[(t["user_id"], t["category_detailed"], _merchant_key(t["merchant_name"]))].append(t)
    subscriptions = {
        k: v for k, v in streams.items() if k[2] in {"netflix.com", "spotify usa", "planet fitness"}
    }
    assert len(subscriptions) >= 10
    for charges in subscriptions.values():
        assert len({date.fromisoformat(t["date"]).day for t in charges}) == 1
        # at least three: the drift's customers settled in NEW_SUBSCRIPTIONS_DAYS before the as-of date
        assert len({t["amount"] for t in charges}) == 1 and len(charges) >= 3
    first_charge = {k: min(date.fromisoformat(t["date"]) for t in v) for k, v in subscriptions.items()}
    recent = {k for k, first in first_charge.items() if (AS_OF - first).days < NEW_SUBSCRIPTIONS_DAYS}
    assert recent and len(recent) < len(subscriptions)  # some customers drift, most do not

    pay_gaps = {}
    for (user, detailed, _), deposits in streams.items():
        if detailed.startswith("INCOME"):
            days = sorted(date.fromisoformat(t["date"]) for t in deposits)
            pay_gaps[user] = (detailed, {(b - a).days for a, b in itertools.pairwise(days)}, days)
    for detailed, gaps, days in pay_gaps.values():
        if detailed == "INCOME_OTHER_INCOME":
            assert all(48 <= g <= 62 for g in gaps) and len(days) >= 2
        elif gaps <= {7} or gaps <= {14}:
            assert all(d.weekday() == 4 for d in days)  # Fridays
        else:
            assert {d.day for d in days} in ({1, 15}, {days[0].day}) and gaps <= set(range(13, 32))

    transfers = Counter()
    for t in data["synthetic_transactions"]:
        if t["category_detailed"] in ("TRANSFER_OUT_SAVINGS", "TRANSFER_IN_SAVINGS"):
            transfers[(t["user_id"], t["date"], abs(t["amount"]))] += 1 if t["amount"] > 0 else -1
    assert transfers and set(transfers.values()) == {0}

    accounts = {a["account_id"]: a for a in data["synthetic_accounts"]}
    interest = [t for t in data["synthetic_transactions"] if "INTEREST" in t["category_detailed"]]
    assert interest and all(accounts[t["account_id"]]["type"] == "credit card" for t in interest)


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_other_formats_hold_the_same_records(tmp_path, fmt):
    generate_dataset(tmp_path / "json", users=12, seed=3, as_of=AS_OF)
    generate_dataset(tmp_path / fmt, users=12, seed=3, as_of=AS_OF, fmt=fmt)
    assert _load(tmp_path / fmt, fmt) == _load(tmp_path / "json")


# --- persona coverage (docs/features.md in plain Python) --------------------------------

_CADENCES = {
    "weekly": (5, 9, 52 / 12),
    "biweekly": (11, 17, 26 / 12),
    "monthly": (26, 35, 1.0),
    "quarterly": (81, 101, 1 / 3),
}
_NOT_SPEND = re.compile(r"transfer|credit[ _]?card[ _]?payment|loan[ _]?payment|saving")
_INCOME = re.compile(r"income|payroll|salary|wage")
_NOT_PAY = re.compile(r"interest|dividend|refund|transfer")
_PAYROLL_MERCHANT = re.compile(r"payroll|salary|direct dep|dir dep")
# Whole words: FOOD_AND_DRINK_COFFEE is not a fee, and TRANSFER does not contain an NSF fee.
_FEE = re.compile(r"(^|[ _])(fees?|nsf)($|[ _])|overdraft|insufficient[ _]?funds")
_SAVINGS_TYPES = {"savings", "money market", "cash management", "hsa"}
_DEPOSITORY_TYPES = {"checking"} | _SAVINGS_TYPES
_INVESTMENT_TYPES = {"brokerage", "401k", "ira"}


def _category(t: dict) -> str:
    return f"{t['category_primary']} {t['category_detailed']}".lower()


@functools.cache
def _merchant_key(name: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[#*]?\s*\d+$", "", name.lower())).strip()


def _recurring(charges: list[tuple[date, float]]) -> tuple[str, float] | None:
    """(cadence, median amount) when the charges form a recurring stream, else None."""
    if len(charges) < 3:
        return None
    charges = sorted(charges)
    gaps = [(b[0] - a[0]).days for a, b in itertools.pairwise(charges)]
    amounts = [a for _, a in charges]
    median_gap, median_amount = statistics.median(gaps), statistics.median(amounts)
    cadence = next((c for c, (lo, hi, _) in _CADENCES.items() if lo <= median_gap <= hi), None)
    if cadence is None:
        return None
    lo, hi, _ = _CADENCES[cadence]
    if sum(lo <= g <= hi for g in gaps) < 0.6 * len(gaps):
        return None
    within = all(abs(a - median_amount) <= 0.25 * median_amount for a in amounts)
    if not within and statistics.pstdev(amounts) / statistics.mean(amounts) > 0.25:
        return None
    return cadence, median_amount


def _features(user: str, window: int, data: dict, as_of: date) -> dict:
    accounts = {a["account_id"]: a for a in data["accounts"][user]}
    liabilities = {li["account_id"]: li for li in data["liabilities"][user]}
    txns = [t for t in data["transactions"][user] if not t["pending"]]
    months, lookback = window / 30, max(window, 90)

    starts = {days: as_of - timedelta(days=days) for days in (window, lookback, 180)}

    def within(t: dict, days: int) -> bool:
        return starts[days] < t["day"] <= as_of

    spend = [t for t in txns if t["amount"] < 0 and not _NOT_SPEND.search(_category(t))]
    total_spend = sum(-t["amount"] for t in spend if within(t, window))
    monthly_spend = total_spend / months

    streams = defaultdict(list)
    for t in spend:
        if within(t, lookback):
            streams[_merchant_key(t["merchant_name"])].append((t["day"], -t["amount"]))
    recurring_count, recurring_monthly, recurring_in_window = 0, 0.0, 0.0
    for charges in streams.values():
        stream = _recurring(charges)
        in_window = [a for d, a in charges if starts[window] < d]
        if stream and in_window:
            recurring_count += 1
            recurring_monthly += stream[1] * _CADENCES[stream[0]][2]
            recurring_in_window += sum(in_window)

    savings = [a for a in accounts.values() if a["type"] in _SAVINGS_TYPES]
    savings_flow = sum(
        t["amount"] for t in txns if within(t, window) and accounts[t["account_id"]] in savings
    )
    savings_balance = sum(a["balance_current"] for a in savings)
    start_balance = savings_balance - savings_flow
    growth = (savings_balance - start_balance) / start_balance if savings and start_balance > 0 else None

    cards = [a for a in accounts.values() if a["type"] == "credit card"]
    utilization = [a["balance_current"] / a["balance_limit"] for a in cards]
    card_ids = {a["account_id"] for a in cards}
    pay = sorted(
        (t["day"], t["amount"])
        for t in txns
        if within(t, lookback)
        and t["amount"] > 0
        and accounts[t["account_id"]]["type"] in _DEPOSITORY_TYPES
        and (
            (_INCOME.search(_category(t)) and not _NOT_PAY.search(_category(t)))
            or _PAYROLL_MERCHANT.search(t["merchant_name"].lower())
        )
    )
    pay_gaps = [(b[0] - a[0]).days for a, b in itertools.pairwise(pay)]
    checking = sum(a["balance_current"] for a in accounts.values() if a["type"] == "checking")
    return {
        "avg_monthly_income": sum(a for d, a in pay if starts[window] < d) / months,
        "total_savings_balance": savings_balance,
        "net_savings_inflow": savings_flow / months,
        "savings_growth_rate": growth,
        "max_utilization": max(utilization, default=None),
        "interest_charges_present": any(
            within(t, window) and t["account_id"] in card_ids and "interest" in _category(t) for t in txns
        ),
        "minimum_payment_only_flag": any(
            accounts[i]["balance_current"] > 0
            and li["last_payment_amount"] <= li["minimum_payment_amount"] + 5
            for i, li in liabilities.items()
            if i in card_ids
        ),
        "any_overdue": any(li["is_overdue"] for i, li in liabilities.items() if i in card_ids),
        "fee_in_180_days": any(
            within(t, 180) and t["amount"] < 0 and _FEE.search(_category(t)) for t in txns
        ),
        "investment_account_detected": any(a["type"] in _INVESTMENT_TYPES for a in accounts.values()),
        "median_pay_gap_days": statistics.median(pay_gaps) if len(pay) >= 2 else None,
        "cash_flow_buffer_months": checking / monthly_spend if monthly_spend else None,
        "recurring_merchants": recurring_count,
        "monthly_recurring_spend": recurring_monthly,
        "subscription_spend_share": recurring_in_window / total_spend if total_spend else 0.0,
    }


def _matched_personas(f: dict) -> list[str]:
    max_util = f["max_utilization"] or 0.0
    rules = {
        "wealth_builder": f["avg_monthly_income"] > 10_000
        and f["total_savings_balance"] > 25_000
        and max_util <= 0.20
        and not f["fee_in_180_days"]
        and f["investment_account_detected"],
        "high_utilization": max_util >= 0.50
        or f["interest_charges_present"]
        or f["minimum_payment_only_flag"]
        or f["any_overdue"],
        "savings_builder": ((f["savings_growth_rate"] or 0) >= 0.02 or f["net_savings_inflow"] >= 200)
        and max_util < 0.30,
        "variable_income": (f["median_pay_gap_days"] or 0) > 45 and (f["cash_flow_buffer_months"] or 0) < 1,
        "subscription_heavy": f["recurring_merchants"] >= 3
        and (f["monthly_recurring_spend"] >= 50 or f["subscription_spend_share"] >= 0.10),
    }
    return [p for p in PERSONAS if rules[p]]


def persona_counts(out_dir: Path, as_of: date) -> dict[int, Counter]:
    """Customers per persona (highest priority match, else general_wellness) in each window."""
    raw = _load(out_dir)
    data = {
        "accounts": defaultdict(list),
        "liabilities": defaultdict(list),
        "transactions": defaultdict(list),
    }
    for key in data:
        for record in raw[f"synthetic_{key}"]:
            data[key][record["user_id"]].append(record)
    for t in raw["synthetic_transactions"]:
        t["day"] = date.fromisoformat(t["date"])
    customers = [u["user_id"] for u in raw["synthetic_users"] if u["user_type"] == "customer"]
    return {
        window: Counter(
            (_matched_personas(_features(user, window, data, as_of)) or ["general_wellness"])[0]
            for user in customers
        )
        for window in (30, 180)
    }


def test_every_persona_covers_three_customers_in_both_windows(default_dataset):
    out_dir, _ = default_dataset
    counts = persona_counts(out_dir, AS_OF)
    for window, by_persona in counts.items():
        for persona in PERSONAS:
            assert by_persona[persona] >= 3, (window, dict(by_persona))
        assert by_persona["general_wellness"] >= 1, (window, dict(by_persona))


@pytest.mark.parametrize("as_of", [date(2024, 2, 29), date(2025, 3, 31)])
def test_persona_coverage_holds_on_awkward_as_of_dates(tmp_path, as_of):
    """A leap day and the end of a 31-day month: the cadences are chosen to survive any as-of date."""
    generate_dataset(tmp_path, as_of=as_of)
    for window, by_persona in persona_counts(tmp_path, as_of).items():
        assert all(by_persona[p] >= 3 for p in PERSONAS), (as_of, window, dict(by_persona))
