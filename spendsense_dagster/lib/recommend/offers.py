"""Partner offers (docs/guardrails.md): catalog products scored against each customer's features,
filtered by hard eligibility rules, the best 1–2 per customer rendered as items the guardrails can check.

The hard eligibility rules live once, as data (`ELIGIBILITY_RULES`). The SQL filter of
`select_offers` and the Python re-check `is_offer_eligible` (run by the guardrail stage, per item) are
both generated from that table, and both evaluate the same four user facts (`offer_facts`), so the two
cannot drift apart; a test compares them on every (user, product) pair of a fixture.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from pydantic import BaseModel

from spendsense_dagster.lib.recommend.context import account_label, account_label_sql, consented_customer_ids
from spendsense_dagster.lib.recommend.formats import format_feature
from spendsense_dagster.lib.recommend.models import (
    DISCLAIMER,
    CitedFact,
    GeneratedItem,
    ItemMetadata,
)

# Account types or subtypes (and any subtype mentioning savings) that count as an existing savings
# account: docs/features.md, the same list as dbt's category_patterns macro. Labels are compared normalised.
SAVINGS_LIKE_TYPES = ("savings", "money market", "cash management", "hsa")

# Relevance score: a behavioural signal for the product type outweighs a persona match.
SIGNAL_WEIGHT = 3
PRIMARY_PERSONA_WEIGHT = 2
MATCHED_PERSONA_WEIGHT = 1
MAX_OFFERS_PER_USER = 2

_OPERATORS = {">=": operator.ge, "<=": operator.le, "=": operator.eq}


@dataclass(frozen=True)
class EligibilityRule:
    """`<user fact> <op> <bound>` must hold whenever the rule applies to the product.

    The bound is a product column (the rule applies when that column is not null) or a constant. A rule
    can also apply only to products with a true boolean column or of one product type.
    """

    name: str
    user_fact: str
    op: str
    product_bound: str | None = None
    constant_bound: float | bool | None = None
    when_product_flag: str | None = None
    when_product_type: str | None = None

    def applies(self, product: Mapping[str, Any]) -> bool:
        return (
            (self.product_bound is None or product.get(self.product_bound) is not None)
            and (self.when_product_flag is None or bool(product.get(self.when_product_flag)))
            and (self.when_product_type is None or product.get("product_type") == self.when_product_type)
        )

    def bound(self, product: Mapping[str, Any]) -> Any:
        return product[self.product_bound] if self.product_bound else self.constant_bound

    def passes(self, product: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
        return not self.applies(product) or _OPERATORS[self.op](facts[self.user_fact], self.bound(product))

    def sql(self, products: str = "products", facts: str = "facts") -> str:
        """The same rule as a boolean SQL expression over the products and user-facts relations."""
        conditions = []
        if self.product_bound:
            conditions.append(f"{products}.{self.product_bound} is not null")
        if self.when_product_flag:
            conditions.append(f"coalesce({products}.{self.when_product_flag}, false)")
        if self.when_product_type:
            conditions.append(f"coalesce({products}.product_type = '{self.when_product_type}', false)")
        applies = " and ".join(conditions) or "true"
        bound = (
            f"{products}.{self.product_bound}" if self.product_bound else _sql_literal(self.constant_bound)
        )
        return f"(not ({applies}) or {facts}.{self.user_fact} {self.op} {bound})"


ELIGIBILITY_RULES = (
    # min_income is monthly, compared with avg_monthly_income.
    EligibilityRule("min_income", "avg_monthly_income", ">=", product_bound="min_income"),
    EligibilityRule(
        "max_credit_utilization", "max_utilization", "<=", product_bound="max_credit_utilization"
    ),
    EligibilityRule(
        "requires_no_existing_savings",
        "has_savings_account",
        "=",
        constant_bound=False,
        when_product_flag="requires_no_existing_savings",
    ),
    EligibilityRule(
        "requires_no_existing_investment",
        "has_investment_account",
        "=",
        constant_bound=False,
        when_product_flag="requires_no_existing_investment",
    ),
    # A balance transfer only makes sense for someone carrying a real balance.
    EligibilityRule(
        "balance_transfer_min_utilization",
        "max_utilization",
        ">=",
        constant_bound=0.30,
        when_product_type="balance_transfer_card",
    ),
)


@dataclass(frozen=True)
class OfferSignal:
    """When a product type is relevant (SQL over marts.user_features as `features`) and which facts
    the rationale cites: (feature, phrase with `{}` for the formatted value)."""

    condition_sql: str
    facts: tuple[tuple[str, str], ...]


OFFER_SIGNALS = {
    "balance_transfer_card": OfferSignal(
        "features.max_utilization > 0.5 or features.interest_charges_present",
        (
            ("max_utilization", "your highest card utilization is {}"),
            ("estimated_monthly_interest", "card interest is estimated at {} a month"),
        ),
    ),
    "high_yield_savings": OfferSignal(
        "features.net_savings_inflow > 0 and features.emergency_fund_months < 3",
        (
            ("net_savings_inflow", "you move about {} a month into savings"),
            ("emergency_fund_months", "your savings cover about {} months of spending"),
        ),
    ),
    "budgeting_app": OfferSignal(
        "features.median_pay_gap_days > 45 or features.income_variability >= 0.25",
        (
            ("median_pay_gap_days", "your pay arrives about every {} days"),
            ("avg_monthly_spend", "you spend about {} a month"),
        ),
    ),
    "subscription_manager": OfferSignal(
        "features.recurring_merchants >= 5",
        (
            ("recurring_merchants", "you have {} recurring subscriptions"),
            ("monthly_recurring_spend", "they cost about {} a month"),
        ),
    ),
    "robo_advisor": OfferSignal(
        "features.avg_monthly_income > 5000 and coalesce(features.max_utilization, 0) < 0.3",
        (
            ("avg_monthly_income", "your monthly income is about {}"),
            ("max_utilization", "your highest card utilization is {}"),
        ),
    ),
    "credit_builder": OfferSignal(
        "features.minimum_payment_only_flag or features.any_overdue",
        (
            ("max_utilization", "your highest card utilization is {}"),
            ("credit_card_count", "you have {} credit card(s)"),
        ),
    ),
    "debt_consolidation_education": OfferSignal(
        "features.interest_charges_present or features.max_utilization >= 0.5",
        (
            ("estimated_monthly_interest", "card interest is estimated at {} a month"),
            ("max_utilization", "your highest card utilization is {}"),
        ),
    ),
    "emergency_fund_tool": OfferSignal(
        # Less than a month of spending set aside across checking and savings together.
        "features.cash_flow_buffer_months + features.emergency_fund_months < 1",
        (
            ("cash_flow_buffer_months", "your checking balance covers about {} months of spending"),
            ("emergency_fund_months", "your savings cover about {} months of spending"),
        ),
    ),
}

# Cited when none of the product type's own facts has a value, so every rationale still has a number.
FALLBACK_FACTS = (
    ("avg_monthly_spend", "you spend about {} a month"),
    ("transaction_count", "you made {} transactions in this period"),
)

# Every feature a rationale may cite: the only feature columns select_offers fetches.
_CITABLE_FEATURES = tuple(
    dict.fromkeys(
        name
        for facts in (*(signal.facts for signal in OFFER_SIGNALS.values()), FALLBACK_FACTS)
        for name, _ in facts
    )
)

PRIORITY_LABELS = {1: "high", 2: "medium"}  # catalog priority 1 is the top; 3 and above read "low"


class OfferItem(GeneratedItem):
    """A partner offer in the generated-item shape, plus what its recs row needs."""

    user_id: str
    window_days: int
    product_id: str
    disclaimer: str  # the product's disclosure, then the mandatory DISCLAIMER
    relevance_score: int


def _sql_literal(value: float | bool | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else repr(float(value))


def _savings_like_sql(accounts: str) -> str:
    types = ", ".join(f"'{account_type}'" for account_type in SAVINGS_LIKE_TYPES)
    account_type, subtype = account_label_sql(f"{accounts}.type"), account_label_sql(f"{accounts}.subtype")
    return f"({account_type} in ({types}) or {subtype} in ({types}) or {subtype} like '%savings%')"


def _is_savings_like(account: Mapping[str, Any]) -> bool:
    account_type, subtype = account_label(account.get("type")), account_label(account.get("subtype"))
    return account_type in SAVINGS_LIKE_TYPES or subtype in SAVINGS_LIKE_TYPES or "savings" in subtype


def offer_facts(
    features: Mapping[str, Any], accounts: Iterable[Mapping[str, Any] | BaseModel]
) -> dict[str, Any]:
    """The four user facts the eligibility rules read (the `user_facts` CTE computes the same in SQL)."""
    account_rows = [a.model_dump() if isinstance(a, BaseModel) else a for a in accounts]
    return {
        "avg_monthly_income": float(features.get("avg_monthly_income") or 0.0),
        "max_utilization": float(features.get("max_utilization") or 0.0),
        "has_savings_account": any(_is_savings_like(account) for account in account_rows),
        "has_investment_account": bool(features.get("investment_account_detected")),
    }


def is_offer_eligible(
    product: Mapping[str, Any],
    features: Mapping[str, Any],
    accounts: Iterable[Mapping[str, Any] | BaseModel],
) -> tuple[bool, list[str]]:
    """The guardrail re-check of one offer: (eligible, reasons it is not). Same rules as the SQL."""
    facts = offer_facts(features, accounts)
    reasons = [
        f"{rule.name}: {rule.user_fact} is {facts[rule.user_fact]!r}, needs {rule.op} {rule.bound(product)!r}"
        for rule in ELIGIBILITY_RULES
        if not rule.passes(product, facts)
    ]
    if not product.get("active", False):
        reasons.append("product is not active")
    return not reasons, reasons


def _candidate_ctes() -> str:
    """CTEs ending in `scored`: every (in-scope user, active product) pair, its score and eligibility."""
    signal_cases = "\n".join(
        f"            when '{product_type}' then coalesce({signal.condition_sql}, false)"
        for product_type, signal in OFFER_SIGNALS.items()
    )
    rule_checks = "\n            and ".join(rule.sql() for rule in ELIGIBILITY_RULES)
    return f"""
with
target_users as (
    select unnest($user_ids::varchar[]) as user_id
),

features as (
    select user_features.*
    from marts.user_features as user_features
    inner join target_users using (user_id)
    where user_features.window_days = $window_days
),

personas as (
    select user_id, persona, matched_personas
    from marts.user_personas
    inner join target_users using (user_id)
    where window_days = $window_days
),

savings_holders as (
    select distinct accounts.user_id
    from raw.accounts as accounts
    inner join target_users using (user_id)
    where {_savings_like_sql("accounts")}
),

products as (
    select *
    from raw.products
    where active
),

user_facts as (
    select
        features.user_id,
        personas.persona,
        personas.matched_personas,
        coalesce(features.avg_monthly_income, 0) as avg_monthly_income,
        coalesce(features.max_utilization, 0) as max_utilization,
        savings_holders.user_id is not null as has_savings_account,
        coalesce(features.investment_account_detected, false) as has_investment_account
    from features
    inner join personas using (user_id)
    left join savings_holders using (user_id)
),

candidates as (
    select
        facts.user_id,
        products.product_id,
        products.product_type,
        products.priority,
        case products.product_type
{signal_cases}
            else false
        end as has_signal,
        coalesce(list_contains(products.persona_targets, facts.persona), false) as targets_persona,
        coalesce(list_has_any(products.persona_targets, facts.matched_personas), false)
            as targets_matched_persona,
        {rule_checks} as is_eligible
    from user_facts as facts
    inner join features using (user_id)
    cross join products
),

scored as (
    select
        *,
        (case when has_signal then {SIGNAL_WEIGHT} else 0 end)
        + (case
            when targets_persona then {PRIMARY_PERSONA_WEIGHT}
            when targets_matched_persona then {MATCHED_PERSONA_WEIGHT}
            else 0
        end) as relevance_score
    from candidates
)"""


_CANDIDATE_CTES = _candidate_ctes()

# Every pair, for tests and fairness monitoring.
_ALL_CANDIDATES_SQL = f"""{_CANDIDATE_CTES},

final as (
    select user_id, product_id, product_type, relevance_score, is_eligible
    from scored
)

select * from final order by user_id, product_id
"""

# The best product of each type, then the top 1–2 per user.
_TOP_OFFERS_SQL = f"""{_CANDIDATE_CTES},

best_of_type as (
    select *
    from scored
    where is_eligible
    qualify row_number() over (
        partition by user_id, product_type order by relevance_score desc, priority, product_id
    ) = 1
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id order by relevance_score desc, priority, product_id
        ) as offer_rank
    from best_of_type
),

final as (
    select
        ranked.user_id,
        ranked.offer_rank,
        ranked.product_id,
        ranked.relevance_score,
        {", ".join(f"features.{name}" for name in _CITABLE_FEATURES)}
    from ranked
    inner join features on features.user_id = ranked.user_id
    where ranked.offer_rank = 1 or (ranked.offer_rank <= {MAX_OFFERS_PER_USER} and ranked.relevance_score > 0)
)

select * from final order by user_id, offer_rank
"""


def products_by_id(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Every catalog product, active or not, for the guardrail's eligibility re-check."""
    rows = con.execute("select * from raw.products order by product_id").fetchall()
    columns = [description[0] for description in con.description]
    products = [dict(zip(columns, row, strict=True)) for row in rows]
    return {product["product_id"]: product for product in products}


def _scope(con: duckdb.DuckDBPyConnection, window_days: int, user_ids: list[str] | None) -> dict[str, Any]:
    return {"user_ids": consented_customer_ids(con, user_ids), "window_days": window_days}


def offer_candidates(
    con: duckdb.DuckDBPyConnection, window_days: int = 30, user_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """All (user, active product) pairs: relevance_score and is_eligible, before any top-N cut."""
    rows = con.execute(_ALL_CANDIDATES_SQL, _scope(con, window_days, user_ids)).fetchall()
    columns = [description[0] for description in con.description]
    return [dict(zip(columns, row, strict=True)) for row in rows]


def select_offers(
    con: duckdb.DuckDBPyConnection, window_days: int = 30, user_ids: list[str] | None = None
) -> list[OfferItem]:
    """The top 1–2 eligible offers per in-scope customer, ordered by user and rank.

    `user_ids` is the caller's effective-consent list (None: marts.customers.consent_status). Per user:
    the best product of each type, ranked by relevance score, then catalog priority, then product_id;
    the first always (when anything is eligible), the second only when it is relevant (score > 0).
    """
    rows = con.execute(_TOP_OFFERS_SQL, _scope(con, window_days, user_ids)).fetchall()
    products = products_by_id(con)
    return [
        _offer_item(
            user_id,
            window_days,
            score,
            products[product_id],
            dict(zip(_CITABLE_FEATURES, values, strict=True)),
        )
        for user_id, _rank, product_id, score, *values in rows
    ]


def _offer_item(
    user_id: str, window_days: int, score: int, product: dict[str, Any], features: dict[str, Any]
) -> OfferItem:
    cited = _cited_facts(product["product_type"], features)
    # Without any known fact the rationale has no number, and the grounding guardrail warns.
    reasons = (
        " and ".join(
            # The cited_facts keep the exact value; the sentence reads it as formats.py says.
            phrase.format(format_feature(name, value))
            for name, phrase, value in cited
        )
        or "it fits your recent activity"
    )
    benefits = "\n".join(f"- {benefit}" for benefit in product["benefits"] or [])
    content = (
        f"**{product['product_name']}** from {product['partner_name']}: {product['short_description']}\n\n"
        f"What it offers:\n{benefits}\n\n"
        f"Typical APY or fee: {product['typical_apy_or_fee']}\n\n"
        f"You can explore the details and terms at [{product['partner_name']}]({product['partner_link']})."
    )
    return OfferItem(
        title=f"Explore {product['product_name']}",
        content=content,
        rationale=f"Because {reasons}, {product['product_name']} may be worth a look.",
        cited_facts=[CitedFact(name=name, value=value) for name, _phrase, value in cited],
        metadata=ItemMetadata(
            priority=PRIORITY_LABELS.get(product["priority"], "low"),
            tags=["partner_offer", product["product_type"], product["category"]],
        ),
        user_id=user_id,
        window_days=window_days,
        product_id=product["product_id"],
        disclaimer=f"{product['disclosure']} {DISCLAIMER}",
        relevance_score=score,
    )


def _cited_facts(product_type: str, features: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """(feature, phrase, exact value) for the product type's facts that have a value.

    Zeros are dropped when a non-zero fact remains ("$0.00 of interest" explains nothing)."""
    signal = OFFER_SIGNALS.get(product_type)
    for candidates in ((signal.facts if signal else ()), FALLBACK_FACTS):
        known = [
            (name, phrase, float(features[name]))
            for name, phrase in candidates
            if features.get(name) is not None
        ]
        if known:
            return [fact for fact in known if fact[2] != 0] or known[:1]
    return []
