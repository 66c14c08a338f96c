"""Customer archetypes: the behaviour each synthetic customer is drawn from.

Five archetypes aim at one persona (docs/features.md) each, a sixth at none (general wellness). Personas are
assigned by priority (wealth_builder > high_utilization > savings_builder > variable_income >
subscription_heavy), so each archetype also stays clear of every persona ranked above its own, in
both the 30- and 180-day windows:
- only high_utilization revolves (interest, minimum-only payments, overdue cards, utilisation >= 0.5);
  everyone else pays cards in full at utilisation < 0.5;
- only wealth and savings builders move money into savings; other savings accounts sit still;
- savings builders hold < 25k in savings, so a large pay month never makes them wealth builders;
- only variable-income customers have pay gaps over 45 days;
- general wellness has at most two stable monthly bills, so no subscription-heavy match.
The archetype mix is exact (largest remainder), not sampled, so every persona is covered at any seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAY_CADENCES = ("weekly", "biweekly", "semi_monthly", "monthly", "gig")
CARD_BEHAVIOURS = ("full", "revolve", "minimum", "overdue")
INVESTMENT_KINDS = ("brokerage", "401k", "ira")
INVESTMENT_KIND_WEIGHTS = (0.5, 0.25, 0.25)
LOAN_KINDS = ("mortgage", "student_loan")
LOAN_KIND_WEIGHTS = (0.4, 0.6)
REVOLVING_BEHAVIOURS = ("revolve", "minimum", "overdue")


@dataclass(frozen=True)
class Archetype:
    name: str
    share: float  # of customers
    monthly_income: tuple[float, float]
    pay_cadences: dict[str, float]  # cadence -> probability
    savings_account: float  # probability of a savings (or money market) account
    savings_balance: tuple[float, float]
    money_market: float  # probability the savings account is a money market account
    monthly_savings_transfer: tuple[float, float] | None  # None: the savings account sits still
    first_card: float  # probability of a credit card
    second_card: float  # probability of a second card, given a first
    utilization: tuple[float, float]
    card_behaviours: dict[str, float]  # CARD_BEHAVIOURS -> probability
    investment_account: float
    monthly_investment_transfer: tuple[float, float] | None  # into a brokerage / IRA account
    loan: float  # probability of a mortgage or student loan
    hsa: float  # probability of a health savings account with payroll contributions
    subscriptions: tuple[int, int]  # how many streaming / software / gym subscriptions (inclusive)
    household_bills: bool  # internet, electricity, insurance beyond rent and phone
    overdraft_fees: float  # probability of one to three overdraft fees
    checking_months_of_spend: tuple[float, float]  # checking balance / monthly spend
    card_spend_share: float  # share of everyday purchases put on a card, when there is one


REGULAR_PAY = {"biweekly": 0.40, "semi_monthly": 0.30, "monthly": 0.30}

ARCHETYPES = (
    # High earners: pay every other Friday (never fewer than 2 paydays in 30 days, so the 30-day
    # income stays above 10k), big savings, investments, low utilisation paid in full, no fees.
    Archetype(
        name="wealth_builder",
        share=0.13,
        monthly_income=(11_500, 15_000),
        pay_cadences={"biweekly": 1.0},
        savings_account=1.0,
        savings_balance=(30_000, 150_000),
        money_market=0.30,
        monthly_savings_transfer=(1_000, 3_000),
        first_card=1.0,
        second_card=0.0,
        utilization=(0.02, 0.15),
        card_behaviours={"full": 1.0},
        investment_account=1.0,
        monthly_investment_transfer=(500, 2_500),
        loan=0.0,
        hsa=0.0,
        subscriptions=(2, 6),
        household_bills=True,
        overdraft_fees=0.0,
        checking_months_of_spend=(2.0, 6.0),
        card_spend_share=0.75,
    ),
    # Revolvers: high utilisation, monthly interest, some pay only the minimum, some are overdue.
    Archetype(
        name="high_utilization",
        share=0.25,
        monthly_income=(2_500, 12_000),
        pay_cadences={"weekly": 0.15, "biweekly": 0.45, "semi_monthly": 0.25, "monthly": 0.15},
        savings_account=0.35,
        savings_balance=(100, 3_000),
        money_market=0.05,
        monthly_savings_transfer=None,
        first_card=1.0,
        second_card=0.45,
        utilization=(0.35, 0.92),
        card_behaviours={"revolve": 0.45, "minimum": 0.35, "overdue": 0.20},
        investment_account=0.15,
        monthly_investment_transfer=None,
        loan=0.25,
        hsa=0.0,
        subscriptions=(1, 6),
        household_bills=True,
        overdraft_fees=0.20,
        checking_months_of_spend=(0.2, 1.5),
        card_spend_share=0.75,
    ),
    # Steady monthly transfers into savings, cards under 30 %.
    Archetype(
        name="savings_builder",
        share=0.17,
        monthly_income=(3_500, 9_500),
        pay_cadences=REGULAR_PAY,
        savings_account=1.0,
        savings_balance=(2_000, 20_000),
        money_market=0.20,
        monthly_savings_transfer=(300, 1_500),
        first_card=0.85,
        second_card=0.20,
        utilization=(0.05, 0.25),
        card_behaviours={"full": 1.0},
        investment_account=0.45,
        monthly_investment_transfer=(100, 500),
        loan=0.25,
        hsa=0.15,
        subscriptions=(0, 5),
        household_bills=True,
        overdraft_fees=0.0,
        checking_months_of_spend=(0.8, 3.0),
        card_spend_share=0.5,
    ),
    # Gig workers: lump-sum deposits 48-62 days apart, a thin checking buffer, some overdrafts.
    Archetype(
        name="variable_income",
        share=0.14,
        monthly_income=(2_000, 6_000),
        pay_cadences={"gig": 1.0},
        savings_account=0.40,
        savings_balance=(50, 1_500),
        money_market=0.0,
        monthly_savings_transfer=None,
        first_card=0.45,
        second_card=0.0,
        utilization=(0.05, 0.40),
        card_behaviours={"full": 1.0},
        investment_account=0.05,
        monthly_investment_transfer=None,
        loan=0.15,
        hsa=0.0,
        subscriptions=(0, 4),
        household_bills=True,
        overdraft_fees=0.50,
        checking_months_of_spend=(0.1, 0.6),
        card_spend_share=0.4,
    ),
    # Many fixed-price monthly subscriptions; otherwise tidy.
    Archetype(
        name="subscription_heavy",
        share=0.17,
        monthly_income=(3_000, 9_000),
        pay_cadences=REGULAR_PAY,
        savings_account=0.50,
        savings_balance=(300, 8_000),
        money_market=0.10,
        monthly_savings_transfer=None,
        first_card=0.85,
        second_card=0.30,
        utilization=(0.05, 0.45),
        card_behaviours={"full": 1.0},
        investment_account=0.25,
        monthly_investment_transfer=None,
        loan=0.20,
        hsa=0.0,
        subscriptions=(5, 10),
        household_bills=True,
        overdraft_fees=0.0,
        checking_months_of_spend=(0.8, 3.0),
        card_spend_share=0.6,
    ),
    # Nothing stands out: regular pay, rent and a phone bill, cards paid in full.
    Archetype(
        name="general_wellness",
        share=0.14,
        monthly_income=(2_500, 9_000),
        pay_cadences={"weekly": 0.15, "biweekly": 0.35, "semi_monthly": 0.25, "monthly": 0.25},
        savings_account=0.50,
        savings_balance=(200, 8_000),
        money_market=0.10,
        monthly_savings_transfer=None,
        first_card=0.60,
        second_card=0.15,
        utilization=(0.10, 0.45),
        card_behaviours={"full": 1.0},
        investment_account=0.30,
        monthly_investment_transfer=None,
        loan=0.20,
        hsa=0.0,
        subscriptions=(0, 0),
        household_bills=False,
        overdraft_fees=0.0,
        checking_months_of_spend=(0.8, 3.0),
        card_spend_share=0.5,
    ),
)
ARCHETYPE_NAMES = tuple(a.name for a in ARCHETYPES)


def assign_archetypes(customers: int, rng: np.random.Generator) -> np.ndarray:
    """Archetype index per customer: exact shares (largest remainder), in random order."""
    shares = np.array([a.share for a in ARCHETYPES])
    quotas = shares / shares.sum() * customers
    counts = np.floor(quotas).astype(np.int64)
    remainder_order = np.argsort(-(quotas - counts), kind="stable")
    counts[remainder_order[: customers - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(ARCHETYPES)), counts))


def per_customer(archetype_of: np.ndarray, field: str) -> np.ndarray:
    """A scalar archetype field spread over customers."""
    return np.array([getattr(a, field) for a in ARCHETYPES])[archetype_of]


def uniform_by_archetype(archetype_of: np.ndarray, field: str, rng: np.random.Generator) -> np.ndarray:
    """A draw from each customer's archetype range `field` (a (low, high) pair; None gives 0)."""
    bounds = np.array([getattr(a, field) or (0.0, 0.0) for a in ARCHETYPES], dtype=np.float64)
    low, high = bounds[archetype_of, 0], bounds[archetype_of, 1]
    return low + (high - low) * rng.random(len(archetype_of))


def choice_by_archetype(
    archetype_of: np.ndarray, field: str, options: tuple[str, ...], rng: np.random.Generator
) -> np.ndarray:
    """Index into `options` per customer, drawn from the archetype's {option: probability} `field`."""
    probabilities = np.array(
        [[getattr(a, field).get(option, 0.0) for option in options] for a in ARCHETYPES], dtype=np.float64
    )
    cumulative = np.cumsum(probabilities / probabilities.sum(axis=1, keepdims=True), axis=1)[archetype_of]
    draws = rng.random(len(archetype_of))[:, None]
    return np.minimum((draws >= cumulative).sum(axis=1), len(options) - 1)


# Optional accounts in the order they are kept when a customer draws more than fit in four.
OPTIONAL_ACCOUNTS = ("card1", "savings", "investment", "card2", "loan", "hsa")
MAX_OPTIONAL_ACCOUNTS = 3  # plus checking: 2-4 accounts per customer


@dataclass(frozen=True)
class CustomerProfiles:
    """Per-customer behaviour parameters, one array entry per customer."""

    archetype: np.ndarray
    monthly_income: np.ndarray
    pay_cadence: np.ndarray  # index into PAY_CADENCES
    has: dict[str, np.ndarray]  # OPTIONAL_ACCOUNTS -> bool
    monthly_savings_transfer: np.ndarray  # 0: none
    monthly_investment_transfer: np.ndarray  # 0: none (or the account is a payroll-funded 401k)
    investment_kind: np.ndarray  # index into INVESTMENT_KINDS
    loan_kind: np.ndarray  # index into LOAN_KINDS
    money_market: np.ndarray  # the savings account is a money market account
    card_behaviour: np.ndarray  # index into CARD_BEHAVIOURS
    subscriptions: np.ndarray
    overdraft: np.ndarray
    checking_months_of_spend: np.ndarray
    card_spend_share: np.ndarray

    def __len__(self) -> int:
        return len(self.archetype)


def draw_profiles(archetype_of: np.ndarray, rng: np.random.Generator) -> CustomerProfiles:
    n = len(archetype_of)
    has = {
        "card1": rng.random(n) < per_customer(archetype_of, "first_card"),
        "savings": rng.random(n) < per_customer(archetype_of, "savings_account"),
        "investment": rng.random(n) < per_customer(archetype_of, "investment_account"),
        "loan": rng.random(n) < per_customer(archetype_of, "loan"),
        "hsa": rng.random(n) < per_customer(archetype_of, "hsa"),
    }
    has["card2"] = has["card1"] & (rng.random(n) < per_customer(archetype_of, "second_card"))
    drawn = np.column_stack([has[name] for name in OPTIONAL_ACCOUNTS])
    kept = drawn & (np.cumsum(drawn, axis=1) <= MAX_OPTIONAL_ACCOUNTS)
    has = {name: kept[:, i] for i, name in enumerate(OPTIONAL_ACCOUNTS)}
    # Checking alone is too thin: give a still savings account (no transfers, so no savings persona).
    has["savings"] |= ~kept.any(axis=1)

    subscription_range = np.array([a.subscriptions for a in ARCHETYPES])[archetype_of]
    investment_kind = rng.choice(len(INVESTMENT_KINDS), n, p=INVESTMENT_KIND_WEIGHTS)
    # A 401k is funded by payroll deduction: no transfers from checking show up.
    funded_from_checking = has["investment"] & (np.array(INVESTMENT_KINDS)[investment_kind] != "401k")
    return CustomerProfiles(
        archetype=archetype_of,
        monthly_income=uniform_by_archetype(archetype_of, "monthly_income", rng),
        pay_cadence=choice_by_archetype(archetype_of, "pay_cadences", PAY_CADENCES, rng),
        has=has,
        monthly_savings_transfer=np.where(
            has["savings"], uniform_by_archetype(archetype_of, "monthly_savings_transfer", rng), 0.0
        ),
        monthly_investment_transfer=np.where(
            funded_from_checking, uniform_by_archetype(archetype_of, "monthly_investment_transfer", rng), 0.0
        ),
        investment_kind=investment_kind,
        loan_kind=rng.choice(len(LOAN_KINDS), n, p=LOAN_KIND_WEIGHTS),
        money_market=rng.random(n) < per_customer(archetype_of, "money_market"),
        card_behaviour=choice_by_archetype(archetype_of, "card_behaviours", CARD_BEHAVIOURS, rng),
        subscriptions=rng.integers(subscription_range[:, 0], subscription_range[:, 1] + 1),
        overdraft=rng.random(n) < per_customer(archetype_of, "overdraft_fees"),
        checking_months_of_spend=uniform_by_archetype(archetype_of, "checking_months_of_spend", rng),
        card_spend_share=per_customer(archetype_of, "card_spend_share"),
    )
