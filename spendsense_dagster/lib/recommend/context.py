"""What a generator may know about each consented customer, built set-based from the marts.

See docs/recommendations.md ("What the model sees").

`build_contexts` reads every in-scope customer at once (four set-based queries, no per-user query):
features of both windows, persona and its reasoning, masked account summaries and recurring streams.
It never selects a name, an email or a full account id. `user_pii` is the opposite: exactly those
values, for the local PII guardrail only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import duckdb

from spendsense_dagster.lib.core.windows import CONTEXT_WINDOW, RECOMMENDATION_WINDOW
from spendsense_dagster.lib.recommend.guardrails.markup import UNNAMED_MERCHANT, plain_text
from spendsense_dagster.lib.recommend.guardrails.pii import PII
from spendsense_dagster.lib.recommend.models import (
    AccountSummary,
    RecurringStreamSummary,
    UserContext,
)

# Features the income summary repeats for the model: the pay cadence in one place (docs/recommendations.md).
INCOME_FEATURES = (
    "avg_monthly_income",
    "payroll_detected",
    "payroll_deposit_count",
    "pay_frequency",
    "median_pay_gap_days",
    "income_variability",
    "cash_flow_buffer_months",
)

# The only characters of an account id a model may see: the same "mask" a bank statement prints.
MASK_CHARS = 4


def account_label_sql(column: str) -> str:
    """An account type/subtype lower-cased, runs of spaces, "_" and "-" made one space (as dbt staging)."""
    return f"coalesce(trim(regexp_replace(lower({column}), '[\\s_-]+', ' ', 'g')), '')"


def account_label(text: str | None) -> str:
    """`account_label_sql` in Python, for accounts already fetched."""
    return " ".join(re.split(r"[\s_-]+", (text or "").lower())).strip()


_CONSENTED_CUSTOMERS_SQL = """
with
customers as (
    select user_id, user_type, consent_status
    from marts.customers
),

given_ids as (
    select unnest($user_ids::varchar[]) as user_id
),

final as (
    select customers.user_id
    from customers
    where customers.user_type = 'customer'
      and (
          ($user_ids::varchar[] is null and coalesce(customers.consent_status, false))
          or customers.user_id in (select user_id from given_ids)
      )
)

select * from final order by user_id
"""

# build_contexts reads four flat, set-based queries over the same in-scope users and groups them in
# Python: fetching nested lists of structs from DuckDB costs several times more than flat rows.
_TARGET_USERS_CTE = """
target_users as (
    select unnest($user_ids::varchar[]) as user_id
)"""

_PERSONAS_SQL = f"""
with
{_TARGET_USERS_CTE},

personas as (
    select user_id, as_of_date, persona, matched_personas, confidence, reasoning
    from marts.user_personas
    where window_days = $window_days
),

final as (
    select personas.*
    from personas
    inner join target_users using (user_id)
)

select * from final order by user_id
"""

_FEATURES_SQL = f"""
with
{_TARGET_USERS_CTE},

features as (
    select *
    from marts.user_features
    where window_days in ($window_days, {CONTEXT_WINDOW})
),

final as (
    select features.*
    from features
    inner join target_users using (user_id)
)

select * from final order by user_id, window_days
"""

_ACCOUNTS_SQL = f"""
with
{_TARGET_USERS_CTE},

accounts as (
    select user_id, account_id, type, subtype, balance_current, balance_limit
    from raw.accounts
),

final as (
    select
        accounts.user_id,
        accounts.type,
        accounts.subtype,
        right(accounts.account_id, {MASK_CHARS}) as mask,
        accounts.balance_current,
        accounts.balance_limit,
        case
            when (
                {account_label_sql("accounts.type")} in ('credit', 'credit card')
                or {account_label_sql("accounts.subtype")} = 'credit card'
            )
                and accounts.balance_limit > 0
                then round(accounts.balance_current / accounts.balance_limit, 4)
        end as utilization,
        accounts.account_id as sort_key  -- ordering only: never fetched into a context
    from accounts
    inner join target_users using (user_id)
)

select * exclude (sort_key) from final order by user_id, type, sort_key
"""

_STREAMS_SQL = f"""
with
{_TARGET_USERS_CTE},

streams as (
    select *
    from marts.recurring_streams
    where window_days = $window_days
      and is_active_in_window
),

final as (
    select
        streams.user_id,
        streams.merchant_name,
        streams.cadence,
        streams.median_amount,
        streams.monthly_cost,
        streams.last_date,
        streams.next_expected_date,
        streams.merchant_key
    from streams
    inner join target_users using (user_id)
)

select * exclude (merchant_key) from final order by user_id, monthly_cost desc, merchant_key
"""

_PII_SQL = """
with
users as (
    select user_id, full_name, email
    from raw.users
),

accounts as (
    select user_id, list(account_id order by account_id) as account_ids
    from raw.accounts
    group by user_id
),

final as (
    select users.user_id, users.full_name, users.email, coalesce(accounts.account_ids, []) as account_ids
    from users
    left join accounts using (user_id)
    where $user_ids::varchar[] is null or list_contains($user_ids::varchar[], users.user_id)
)

select * from final order by user_id
"""


def consented_customer_ids(
    con: duckdb.DuckDBPyConnection, consented_user_ids: list[str] | None = None
) -> list[str]:
    """Customers in scope: those in `consented_user_ids` (the caller's effective consent, consent log
    included), or, when None, those whose marts.customers.consent_status is true. Never operators."""
    rows = con.execute(_CONSENTED_CUSTOMERS_SQL, {"user_ids": consented_user_ids}).fetchall()
    return [user_id for (user_id,) in rows]


def build_contexts(
    con: duckdb.DuckDBPyConnection,
    window_days: int = RECOMMENDATION_WINDOW,
    consented_user_ids: list[str] | None = None,
) -> list[UserContext]:
    """One `UserContext` per consented customer with a persona for the window, ordered by user_id."""
    user_ids = consented_customer_ids(con, consented_user_ids)
    if not user_ids:
        return []
    params = {"user_ids": user_ids, "window_days": window_days}
    features = _by_user(_rows(con, _FEATURES_SQL, params))
    accounts = _by_user(_rows(con, _ACCOUNTS_SQL, {"user_ids": user_ids}))
    streams = _by_user(_rows(con, _STREAMS_SQL, params))
    contexts = []
    for persona in _rows(con, _PERSONAS_SQL, params):
        user_id = persona["user_id"]
        by_window = {row["window_days"]: row for row in features.get(user_id, [])}
        if window_days not in by_window:
            continue  # no features for the window: nothing to ground content in
        contexts.append(
            _to_context(
                persona,
                window_row=by_window[window_days],
                long_row=by_window.get(CONTEXT_WINDOW),
                accounts=accounts.get(user_id, []),
                streams=streams.get(user_id, []),
            )
        )
    return contexts


def user_pii(con: duckdb.DuckDBPyConnection, user_ids: list[str] | None = None) -> dict[str, PII]:
    """The users' (default: every user's) name, email and full account ids, for the PII guardrail.
    Stays on this machine."""
    rows = con.execute(_PII_SQL, {"user_ids": user_ids}).fetchall()
    return {
        user_id: PII(full_name=full_name, email=email, account_ids=tuple(account_ids))
        for user_id, full_name, email, account_ids in rows
    }


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Result rows as JSON-able dicts. Conversions are chosen once per column from its type, not per value."""
    rows = con.execute(sql, params).fetchall()
    columns = [(name, _converter(str(type_code))) for name, type_code, *_ in con.description]
    return [
        {name: value if convert is None or value is None else convert(value) for (name, convert), value in
         zip(columns, row, strict=True)}
        for row in rows
    ]  # fmt: skip


def _converter(sql_type: str) -> Callable[[Any], Any] | None:
    """Dates and timestamps as ISO text, decimals as floats; everything else is already plain."""
    if sql_type.startswith(("DATE", "TIMESTAMP")):
        return lambda value: value.isoformat()
    if sql_type.startswith("DECIMAL"):
        return float
    return None


def _by_user(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by user_id (which is dropped), keeping the query's order inside each user."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.pop("user_id"), []).append(row)
    return grouped


def _to_context(
    persona: dict[str, Any],
    *,
    window_row: dict[str, Any],
    long_row: dict[str, Any] | None,
    accounts: list[dict[str, Any]],
    streams: list[dict[str, Any]],
) -> UserContext:
    return UserContext(
        user_id=persona["user_id"],
        window_days=window_row["window_days"],
        as_of_date=persona["as_of_date"],
        persona=persona["persona"],
        matched_personas=list(persona["matched_personas"] or []),
        persona_confidence=float(persona["confidence"] or 0.0),
        persona_reasoning=matched_criteria(persona["reasoning"]),
        features=window_row,
        features_context_window=long_row or {},
        accounts=[AccountSummary(**_plain_labels(account)) for account in accounts],
        recurring_streams=[
            RecurringStreamSummary(
                **{**stream, "merchant_name": plain_text(stream["merchant_name"]) or UNNAMED_MERCHANT}
            )
            for stream in streams
        ],
        income={name: window_row.get(name) for name in INCOME_FEATURES},
    )


def _plain_labels(account: dict[str, Any]) -> dict[str, Any]:
    """Account type and subtype are feed text too: no markup or control characters reach a prompt."""
    subtype = plain_text(account["subtype"]) if account["subtype"] is not None else None
    return {**account, "type": plain_text(account["type"]), "subtype": subtype}


def matched_criteria(reasoning: str | None) -> list[dict[str, Any]]:
    """The satisfied criteria in user_personas.reasoning, flat, each tagged with its persona.

    The mart writes `[{"persona", "priority", "confidence", "criteria": [{feature, value, operator,
    threshold, satisfied}, ...]}, ...]` for the matched personas; an unsatisfied criterion (the other
    side of an OR) explains nothing, so it is left out.
    """
    return [
        {"persona": matched["persona"], **criterion}
        for matched in json.loads(reasoning or "[]")
        for criterion in matched["criteria"]
        if criterion["satisfied"]
    ]
