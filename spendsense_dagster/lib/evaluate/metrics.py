"""Per-run evaluation (docs/review.md): one row in eval.evaluation_metrics plus evaluation_report.json.

Definitions (docs/review.md repeats them for readers of the report):
- coverage_<W>d: consenting customers whose W-day persona is one of the five (not general_wellness)
  and whose W-day detected_behaviors >= 3, over all consenting customers (consent as of now).
- explainability: items whose rationale contains a digit and whose guardrail findings have no
  grounding finding (check name starting "grounding"), over all items.
- auditability: items with a features row and a persona-reasoning row (valid JSON) for their user,
  window and as-of date, a prompt_version and a model, guardrail findings (valid JSON, an empty list
  counts), and, when decided, every logged decision traceable (operator is a raw.users operator,
  reason for reject/override, previous and new text for override), over all items.
- latency: per user, the sum of recs.llm_calls latency_ms (cache hits included: what the run spent
  on that user); mean and p95 (continuous quantile) over users.
- llm_calls / tokens / cost: calls not served from the cache by a non-template generator; cache_hits
  and generations (all recs.llm_calls rows) beside them.
- fairness (monitoring only): see `_fairness`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from spendsense_dagster.lib.core.personas import PERSONAS, TARGET_PERSONAS
from spendsense_dagster.lib.core.stats import p95
from spendsense_dagster.lib.core.warehouse import one_row, run_as_of
from spendsense_dagster.lib.core.windows import CONTEXT_WINDOW, RECOMMENDATION_WINDOW, WINDOWS
from spendsense_dagster.lib.evaluate.persona_flow import persona_flow, persona_flow_summary
from spendsense_dagster.lib.review.consent_log import effective_consent
from spendsense_dagster.lib.review.decision_log import (
    DECISIONS_TEMP_TABLE,
    LATEST_DECISIONS_SQL,
    load_decisions,
    utc_now_iso,
)

FAIRNESS_THRESHOLD_POINTS = 10.0
FAIRNESS_DIMENSIONS = ("income_quintile", "age_band", "region")
GROUNDING_CHECK_PREFIX = "grounding"

# eval.evaluation_metrics, in column order; the report holds the same keys plus the breakdowns.
METRIC_COLUMNS: dict[str, str] = {
    "run_id": "varchar",
    "as_of_date": "date",
    "computed_at": "timestamp",
    "customers": "integer",
    "consented_customers": "integer",
    **{f"coverage_{window}d": "double" for window in WINDOWS},
    "recommendations": "integer",
    "users_with_recommendations": "integer",
    "explainability": "double",
    "auditability": "double",
    "latency_mean_ms": "double",
    "latency_p95_ms": "double",
    "guardrail_pass": "integer",
    "guardrail_warn": "integer",
    "guardrail_block": "integer",
    "approval_pending": "integer",
    "approval_approved": "integer",
    "approval_rejected": "integer",
    "approval_overridden": "integer",
    "generations": "integer",
    "llm_calls": "integer",
    "cache_hits": "integer",
    "input_tokens": "bigint",
    "output_tokens": "bigint",
    "cost_usd": "double",
    "generation_failures": "integer",
    "persona_distribution": "varchar",  # JSON text: {window: {persona: users}}
    "fairness_flags": "integer",
    "fairness_within_threshold": "boolean",
}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _coverage(con: duckdb.DuckDBPyConnection, consent_table: str) -> dict:
    counts = one_row(
        con,
        f"""
        with consenting_customers as (
            select user_id from {consent_table} where consent_status and user_type = 'customer'
        ),

        personas as (
            select user_id, window_days, persona from marts.user_personas
        ),

        features as (
            select user_id, window_days, detected_behaviors from marts.user_features
        ),

        covered as (
            select personas.user_id, personas.window_days
            from personas
            inner join features
                on features.user_id = personas.user_id and features.window_days = personas.window_days
            inner join consenting_customers on consenting_customers.user_id = personas.user_id
            where list_contains($target_personas, personas.persona) and features.detected_behaviors >= 3
        ),

        covered_per_window as (
            select map_from_entries(list((window_days, users))) as covered
            from (select window_days, count(distinct user_id) as users from covered group by window_days)
        ),

        final as (
            select
                (select count(*) from raw.users where user_type = 'customer') as customers,
                (select count(*) from consenting_customers) as consented_customers,
                (select covered from covered_per_window) as covered
        )

        select * from final
        """,
        {"target_personas": list(TARGET_PERSONAS)},
    )
    covered = counts["covered"] or {}
    return {
        "customers": counts["customers"],
        "consented_customers": counts["consented_customers"],
        **{
            f"coverage_{window}d": _ratio(covered.get(window, 0), counts["consented_customers"])
            for window in WINDOWS
        },
    }


def _items(con: duckdb.DuckDBPyConnection) -> dict:
    """Explainability, guardrail outcomes and approval status of every recommendation."""
    counts = one_row(
        con,
        f"""
        with items as (
            select * from recs.recommendations
        ),

        latest_decisions as (
            {LATEST_DECISIONS_SQL}
        ),

        finding_checks as (
            select
                recommendation_id,
                unnest(json_extract_string(guardrail_findings, '$[*].check')) as check_name
            from items
        ),

        ungrounded_items as (
            select distinct recommendation_id
            from finding_checks
            where starts_with(check_name, $grounding)
        ),

        final as (
            select
                count(*) as recommendations,
                count(distinct items.user_id) as users_with_recommendations,
                count(*) filter (
                    where regexp_matches(items.rationale, '[0-9]')
                        and ungrounded_items.recommendation_id is null
                ) as explained_items,
                count(*) filter (where items.guardrail_status = 'pass') as guardrail_pass,
                count(*) filter (where items.guardrail_status = 'warn') as guardrail_warn,
                count(*) filter (where items.guardrail_status = 'block') as guardrail_block,
                count(*) filter (where latest_decisions.action is null) as approval_pending,
                count(*) filter (where latest_decisions.action = 'approve') as approval_approved,
                count(*) filter (where latest_decisions.action = 'reject') as approval_rejected,
                count(*) filter (where latest_decisions.action = 'override') as approval_overridden
            from items
            left join ungrounded_items on ungrounded_items.recommendation_id = items.recommendation_id
            left join latest_decisions on latest_decisions.recommendation_id = items.recommendation_id
        )

        select * from final
        """,
        {"grounding": GROUNDING_CHECK_PREFIX},
    )
    counts["explainability"] = _ratio(counts.pop("explained_items"), counts["recommendations"])
    return counts


def _auditability(con: duckdb.DuckDBPyConnection) -> float | None:
    counts = one_row(
        con,
        f"""
        with items as (
            select * from recs.recommendations
        ),

        feature_snapshots as (
            select distinct user_id, window_days, as_of_date from marts.user_features
        ),

        persona_reasoning as (
            select distinct user_id, window_days, as_of_date
            from marts.user_personas
            where reasoning is not null and json_valid(reasoning)
        ),

        operators as (
            select user_id from raw.users where user_type = 'operator'
        ),

        decision_traces as (
            select
                decisions.recommendation_id,
                bool_and(
                    operators.user_id is not null
                    and decisions.decided_at is not null
                    and (decisions.action = 'approve' or decisions.reason is not null)
                    and (
                        decisions.action != 'override'
                        or (decisions.previous_title is not null and decisions.previous_content is not null
                            and decisions.new_title is not null and decisions.new_content is not null)
                    )
                ) as is_traceable
            from {DECISIONS_TEMP_TABLE} as decisions
            left join operators on operators.user_id = decisions.operator_id
            group by decisions.recommendation_id
        ),

        traced_items as (
            select
                feature_snapshots.user_id is not null
                and persona_reasoning.user_id is not null
                and items.prompt_version is not null
                and items.model is not null
                and coalesce(json_valid(items.guardrail_findings), false)
                and coalesce(decision_traces.is_traceable, true) as is_traceable
            from items
            left join feature_snapshots
                on feature_snapshots.user_id = items.user_id
                and feature_snapshots.window_days = items.window_days
                and feature_snapshots.as_of_date = items.as_of_date
            left join persona_reasoning
                on persona_reasoning.user_id = items.user_id
                and persona_reasoning.window_days = items.window_days
                and persona_reasoning.as_of_date = items.as_of_date
            left join decision_traces on decision_traces.recommendation_id = items.recommendation_id
        ),

        final as (
            select count(*) as items, count(*) filter (where is_traceable) as traceable_items
            from traced_items
        )

        select * from final
        """,
    )
    return _ratio(counts["traceable_items"], counts["items"])


def _generation(con: duckdb.DuckDBPyConnection) -> dict:
    counts = one_row(
        con,
        """
        with calls as (
            select * from recs.llm_calls
        ),

        model_calls as (
            select * from calls where not coalesce(cache_hit, false) and generator != 'template'
        ),

        per_user as (
            select user_id, sum(latency_ms)::double as latency_ms from calls group by user_id
        ),

        final as (
            select
                (select count(*) from calls) as generations,
                (select count(*) from model_calls) as llm_calls,
                (select count(*) from calls where cache_hit) as cache_hits,
                (select coalesce(sum(input_tokens), 0) from model_calls) as input_tokens,
                (select coalesce(sum(output_tokens), 0) from model_calls) as output_tokens,
                (select coalesce(sum(cost_usd), 0) from model_calls) as cost_usd,
                (select count(*) from recs.generation_failures) as generation_failures,
                (select avg(latency_ms) from per_user) as latency_mean_ms,
                (select list(latency_ms) from per_user) as user_latencies_ms
        )

        select * from final
        """,
    )
    counts["latency_p95_ms"] = p95(counts.pop("user_latencies_ms") or [])
    return counts


def _persona_distribution(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    rows = con.execute(
        "select window_days, persona, count(*) from marts.user_personas group by all"
    ).fetchall()
    distribution = {str(window): dict.fromkeys(PERSONAS, 0) for window in WINDOWS}
    for window, persona, users in rows:
        distribution.setdefault(str(window), dict.fromkeys(PERSONAS, 0))[persona] = users
    return distribution


def _fairness_population(
    con: duckdb.DuckDBPyConnection, consent_table: str, window_days: int, income_window_days: int
) -> None:
    """Temp table: one row per (dimension, group, customer), plus every customer under overall/all."""
    con.execute(
        f"""
        create or replace temp table fairness_population as
        with customers as (
            select user_id, coalesce(age_band, 'unknown') as age_band, coalesce(region, 'unknown') as region
            from raw.users
            where user_type = 'customer'
        ),

        incomes as (
            select user_id, avg_monthly_income
            from marts.user_features
            where window_days = $income_window and avg_monthly_income is not null
        ),

        income_quintiles as (
            select user_id, 'Q' || ntile(5) over (order by avg_monthly_income, user_id) as income_quintile
            from incomes
        ),

        personas as (
            select user_id, persona from marts.user_personas where window_days = $window
        ),

        items as (
            select
                user_id,
                count(*) as items,
                count(*) filter (where content_type = 'partner_offer') as partner_offers,
                count(*) filter (where guardrail_status = 'block') as blocked_items
            from recs.recommendations
            group by user_id
        ),

        population as (
            select
                customers.user_id,
                coalesce(income_quintiles.income_quintile, 'unknown') as income_quintile,
                customers.age_band,
                customers.region,
                personas.persona,
                coalesce(consent.consent_status, false) as is_consenting,
                coalesce(items.items, 0) as items,
                coalesce(items.partner_offers, 0) > 0 as has_partner_offer,
                coalesce(items.blocked_items, 0) as blocked_items
            from customers
            left join income_quintiles on income_quintiles.user_id = customers.user_id
            left join personas on personas.user_id = customers.user_id
            left join {consent_table} as consent on consent.user_id = customers.user_id
            left join items on items.user_id = customers.user_id
        ),

        by_group as (
            unpivot population
            on {", ".join(FAIRNESS_DIMENSIONS)}
            into name dimension value group_name
        ),

        final as (
            select
                'overall' as dimension, 'all' as group_name,
                user_id, persona, is_consenting, items, has_partner_offer, blocked_items
            from population
            union all
            select
                dimension, group_name,
                user_id, persona, is_consenting, items, has_partner_offer, blocked_items
            from by_group
        )

        select * from final
        """,
        {"window": window_days, "income_window": income_window_days},
    )


def _fairness(
    con: duckdb.DuckDBPyConnection, consent_table: str, window_days: int, income_window_days: int
) -> dict:
    """Per income quintile (ntile(5) of avg_monthly_income over the income window; no income row =
    'unknown'), age band and region: recommendations per user, partner-offer access (share with at
    least one offer) and the guardrail block rate (blocked items over items), over consenting
    customers, and the persona mix (customers with a persona in the window).

    Parity is measured where it is meaningful: a group is flagged when its offer access or block rate
    is more than 10 percentage points from the whole, or its recommendations per user more than 10 %
    from the whole. The persona mix differs by design (wealth_builder needs a high income): it is an
    informational table, never a flag. Monitoring only: none of these fields feeds a rule or a prompt."""
    _fairness_population(con, consent_table, window_days, income_window_days)
    stats = con.execute(
        """
        select
            dimension,
            group_name,
            count(*) as customers,
            count(*) filter (where is_consenting) as consenting_customers,
            avg(items) filter (where is_consenting) as recommendations_per_user,
            avg(has_partner_offer::int) filter (where is_consenting) as partner_offer_access,
            sum(blocked_items) filter (where is_consenting)
                / nullif(sum(items) filter (where is_consenting), 0) as guardrail_block_rate
        from fairness_population
        group by all
        order by all
        """
    ).fetchall()
    persona_counts: dict[tuple[str, str], dict[str, int]] = {}
    for dimension, group_name, persona, users in con.execute(
        "select dimension, group_name, persona, count(*) from fairness_population "
        "where persona is not null group by all"
    ).fetchall():
        persona_counts.setdefault((dimension, group_name), {})[persona] = users

    def describe(
        dimension: str, group_name: str, customers, consenting, per_user, offer_access, block_rate
    ) -> dict:
        counts = persona_counts.get((dimension, group_name), {})
        with_persona = sum(counts.values())
        return {
            "group": group_name,
            "customers": customers,
            "consenting_customers": consenting,
            "persona_mix": {persona: _ratio(counts.get(persona, 0), with_persona) for persona in PERSONAS},
            "recommendations_per_user": per_user,
            "partner_offer_access": offer_access,
            "guardrail_block_rate": block_rate,
        }

    described = [describe(*row) for row in stats]
    overall = next(
        (group for row, group in zip(stats, described, strict=True) if row[0] == "overall"),
        describe("overall", "all", 0, 0, None, None, None),  # no customers at all
    )
    groups: dict[str, list[dict]] = {dimension: [] for dimension in FAIRNESS_DIMENSIONS}
    for row, group in zip(stats, described, strict=True):
        if row[0] != "overall":
            group["flags"] = _fairness_flags(group, overall)
            groups[row[0]].append(group)
    flagged = sum(1 for dimension_groups in groups.values() for group in dimension_groups if group["flags"])
    return {
        "window_days": window_days,
        "income_window_days": income_window_days,
        "threshold_points": FAIRNESS_THRESHOLD_POINTS,
        "overall": overall,
        "groups": groups,
        "flagged_groups": flagged,
    }


def _fairness_flags(group: dict, overall: dict) -> list[str]:
    def points(value: float | None, whole: float | None) -> float | None:
        return None if value is None or whole is None else (value - whole) * 100

    flags = []
    shares = [
        ("partner-offer access", group["partner_offer_access"], overall["partner_offer_access"]),
        ("guardrail block rate", group["guardrail_block_rate"], overall["guardrail_block_rate"]),
    ]
    for label, value, whole in shares:
        gap = points(value, whole)
        if gap is not None and abs(gap) > FAIRNESS_THRESHOLD_POINTS:
            flags.append(f"{label} {gap:+.1f} pts")
    per_user, whole_per_user = group["recommendations_per_user"], overall["recommendations_per_user"]
    if per_user is not None and whole_per_user:
        relative = points(per_user / whole_per_user, 1.0)
        if abs(relative) > FAIRNESS_THRESHOLD_POINTS:
            flags.append(f"recommendations per user {relative:+.1f} %")
    return flags


def _notes(metrics: dict) -> list[str]:
    notes = []
    if not metrics["consented_customers"]:
        notes.append("no consenting customers: coverage is null")
    if not metrics["recommendations"]:
        notes.append("no recommendations: explainability and auditability are null")
    if not metrics["generations"]:
        notes.append("no generations recorded: latency is null")
    return notes


def compute_metrics(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    review_dir: Path,
    *,
    as_of_date: date | str | None = None,
    fairness_window_days: int = RECOMMENDATION_WINDOW,
    income_window_days: int = CONTEXT_WINDOW,
) -> dict:
    """Every evaluation metric (docs/review.md) of the warehouse as it is now; reads only (temp tables aside).

    The flat keys are METRIC_COLUMNS; `fairness`, `persona_flow` and `notes` are extra, for the report.
    """
    consent_table = effective_consent(con, review_dir)
    load_decisions(con, review_dir)
    if as_of_date is None:
        as_of_date = run_as_of(con)
    metrics: dict = {"run_id": run_id, "as_of_date": str(as_of_date), "computed_at": utc_now_iso()}
    metrics |= _coverage(con, consent_table)
    metrics |= _items(con)
    metrics["auditability"] = _auditability(con)
    metrics |= _generation(con)
    metrics["cost_usd"] = float(metrics["cost_usd"])
    metrics["persona_distribution"] = _persona_distribution(con)
    fairness = _fairness(con, consent_table, fairness_window_days, income_window_days)
    metrics["fairness_flags"] = fairness["flagged_groups"]
    metrics["fairness_within_threshold"] = fairness["flagged_groups"] == 0
    metrics["fairness"] = fairness
    metrics["persona_flow"] = persona_flow_summary(persona_flow(con, fairness_window_days))
    metrics["notes"] = _notes(metrics)
    return metrics


def replace_metrics_row(con: duckdb.DuckDBPyConnection, metrics: dict) -> None:
    """Add the run's row to eval.evaluation_metrics (created when missing) inside the caller's
    transaction; a re-run of the same run_id replaces its own row, other runs' rows are history."""
    con.execute("create schema if not exists eval")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in METRIC_COLUMNS.items())
    con.execute(f"create table if not exists eval.evaluation_metrics ({columns})")
    row = {name: metrics[name] for name in METRIC_COLUMNS}
    row["persona_distribution"] = json.dumps(metrics["persona_distribution"], sort_keys=True)
    select_list = ", ".join(
        f"cast(${name} as {sql_type}) as {name}" for name, sql_type in METRIC_COLUMNS.items()
    )
    con.execute("delete from eval.evaluation_metrics where run_id = ?", [metrics["run_id"]])
    con.execute(f"insert into eval.evaluation_metrics by name select {select_list}", row)
