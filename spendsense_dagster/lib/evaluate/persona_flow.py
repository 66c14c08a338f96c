"""The persona flow between the last two as-of dates of marts.persona_history: customers per (persona
before, persona after), for the evaluation report (JSON and HTML)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from spendsense_dagster.lib.core.warehouse import existing_tables

PERSONA_HISTORY_TABLE = "marts.persona_history"


@dataclass(frozen=True)
class PersonaFlow:
    window_days: int
    dates: tuple[str, str] | None  # the last two as-of dates, or None when history has fewer
    flows: list[tuple[str, str, int]]  # (persona before, persona after, customers)


def persona_flow(con: duckdb.DuckDBPyConnection, window_days: int) -> PersonaFlow:
    """Customers per (persona before, persona after) between the last two as-of dates of the history."""
    if PERSONA_HISTORY_TABLE not in existing_tables(con):
        return PersonaFlow(window_days, None, [])
    dates = [
        row[0]
        for row in con.execute(
            f"select distinct as_of_date from {PERSONA_HISTORY_TABLE} where window_days = ?"
            " order by as_of_date desc limit 2",
            [window_days],
        ).fetchall()
    ]
    if len(dates) < 2:
        return PersonaFlow(window_days, None, [])
    later, earlier = dates
    rows = con.execute(
        f"""
        with history as (
            select user_id, as_of_date, persona from {PERSONA_HISTORY_TABLE} where window_days = $window
        ),

        earlier as (
            select user_id, persona from history where as_of_date = $earlier
        ),

        later as (
            select user_id, persona from history where as_of_date = $later
        ),

        final as (
            select earlier.persona as persona_before, later.persona as persona_after, count(*) as customers
            from earlier
            inner join later on later.user_id = earlier.user_id
            group by all
        )

        select * from final order by all
        """,
        {"window": window_days, "earlier": earlier, "later": later},
    ).fetchall()
    return PersonaFlow(window_days, (str(earlier), str(later)), [(a, b, int(n)) for a, b, n in rows])


def persona_flow_summary(flow: PersonaFlow) -> dict:
    """The flow as the JSON report holds it."""
    return {
        "window_days": flow.window_days,
        "dates": list(flow.dates) if flow.dates else None,
        "changed_persona": sum(n for before, after, n in flow.flows if before != after),
        "customers": sum(n for *_, n in flow.flows),
        "flows": [{"from": before, "to": after, "customers": n} for before, after, n in flow.flows],
    }
