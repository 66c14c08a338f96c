"""What the queue page shows: recommendations with their review status, filtered, sorted and paged in SQL.

An item's review status is its decision in force (the last logged one): pending (none), approved,
rejected or overridden (docs/review.md). Paging is `limit`/`offset` over the filtered set, so a page of
a 10,000-item queue reads 25 rows, not 10,000.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import duckdb

from spendsense_dagster.lib.core.personas import PERSONAS
from spendsense_dagster.lib.review.decision_log import LATEST_DECISIONS_SQL, load_decisions

ITEMS_VIEW = "review_items"
STATUSES = ("pending", "approved", "rejected", "overridden", "all")
GUARDRAIL_OUTCOMES = ("pass", "warn", "block")
# Sort name -> (the column that names it, tie-breakers): every order is total, so pages never overlap.
SORTS: dict[str, tuple[str, str]] = {
    "user": ("user_id", "window_days, content_type, recommendation_id"),
    "persona": ("persona", "user_id, window_days, content_type, recommendation_id"),
    "guardrail": ("guardrail_rank", "user_id, window_days, content_type, recommendation_id"),
    "generated": ("generated_at", "recommendation_id"),
    "title": ("lower(title)", "recommendation_id"),
}
PAGE_SIZES = (10, 25, 50, 100)
_MAX_NUMBER = 1_000_000  # a page number past any real queue, far from SQL's integer limits
_ITEM_COLUMNS = (
    "recommendation_id",
    "user_id",
    "persona",
    "window_days",
    "as_of_date",
    "content_type",
    "title",
    "rationale",
    "content",
    "disclaimer",
    "product_id",
    "generator",
    "generated_at",
    "guardrail_status",
    "guardrail_findings",
    "cited_facts",
    "review_status",
    "decided_by",
    "decided_at",
    "decision_reason",
    "new_title",
    "new_content",
)


class BadFilter(ValueError):
    """A query parameter outside its allowed values; the message names it."""


@dataclass(frozen=True)
class QueueFilter:
    status: str = "pending"
    persona: str | None = None
    guardrail: str | None = None
    sort: str = "user"
    descending: bool = False
    page: int = 1
    size: int = 25

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> QueueFilter:
        """From the page's query string; a value outside the allowed ones is refused, never guessed."""

        def text(name: str) -> str:
            value = params.get(name)
            return value.strip() if isinstance(value, str) else ""

        def choice(name: str, allowed, default):
            value = text(name)
            if not value:
                return default
            if value not in allowed:
                raise BadFilter(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
            return value

        def number(name: str, default: int) -> int:
            value = text(name)
            if not value:
                return default
            if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= _MAX_NUMBER:
                raise BadFilter(f"{name} must be a whole number from 1 to {_MAX_NUMBER:,}; got {value!r}")
            return int(value)

        size = number("size", cls.size)
        if size not in PAGE_SIZES:
            raise BadFilter(f"size must be one of {', '.join(map(str, PAGE_SIZES))}; got {size}")
        return cls(
            status=choice("status", STATUSES, cls.status),
            persona=choice("persona", PERSONAS, None),
            guardrail=choice("guardrail", GUARDRAIL_OUTCOMES, None),
            sort=choice("sort", tuple(SORTS), cls.sort),
            descending=choice("order", ("asc", "desc"), "asc") == "desc",
            page=number("page", cls.page),
            size=size,
        )

    def query_string(self, **changes) -> str:
        """This filter as a query string, with some fields changed (links to other pages and sorts)."""
        shown = replace(self, **changes)
        params = {
            "status": shown.status,
            "persona": shown.persona or "",
            "guardrail": shown.guardrail or "",
            "sort": shown.sort,
            "order": "desc" if shown.descending else "asc",
            "page": shown.page,
            "size": shown.size,
        }
        return urlencode(params)

    def where_sql(self) -> tuple[str, dict]:
        """The filter as a SQL condition over ITEMS_VIEW, with its parameters (never formatted in)."""
        return (
            "($status = 'all' or review_status = $status)"
            " and ($persona is null or persona = $persona)"
            " and ($guardrail is null or guardrail_status = $guardrail)",
            {"status": self.status, "persona": self.persona, "guardrail": self.guardrail},
        )


@dataclass(frozen=True)
class QueuePage:
    items: list[dict]
    total: int  # items matching the filter, all pages
    pages: int
    status_counts: dict[str, int]  # over every item, by review status
    clean_pending: int  # pending items matching the filter whose guardrail status is pass


def create_items_view(con: duckdb.DuckDBPyConnection, review_dir: Path) -> str:
    """Temp view `review_items`: every recommendation with its decision in force (from the log)."""
    load_decisions(con, review_dir)
    con.execute(
        f"""
        create or replace temp view {ITEMS_VIEW} as
        with recommendations as (
            select * from recs.recommendations
        ),

        latest_decisions as (
            {LATEST_DECISIONS_SQL}
        ),

        final as (
            select
                recommendations.*,
                case latest_decisions.action
                    when 'approve' then 'approved'
                    when 'reject' then 'rejected'
                    when 'override' then 'overridden'
                    else 'pending'
                end as review_status,
                -- block first: the items that most need a reviewer's eye
                case recommendations.guardrail_status when 'block' then 0 when 'warn' then 1 else 2 end
                    as guardrail_rank,
                latest_decisions.operator_id as decided_by,
                latest_decisions.decided_at,
                latest_decisions.reason as decision_reason,
                latest_decisions.new_title,
                latest_decisions.new_content
            from recommendations
            left join latest_decisions
                on latest_decisions.recommendation_id = recommendations.recommendation_id
        )

        select * from final
        """
    )
    return ITEMS_VIEW


def _facts(con: duckdb.DuckDBPyConnection, items: list[dict]) -> None:
    """Each item's cited facts beside the user's actual feature value (marts.user_features), in place."""
    keys = sorted({(item["user_id"], item["window_days"]) for item in items})
    features: dict[tuple[str, int], dict] = {}
    if keys:
        cursor = con.execute(
            """
            select features.*
            from marts.user_features as features
            inner join (select unnest($users) as user_id, unnest($windows) as window_days) as page_keys
                on page_keys.user_id = features.user_id and page_keys.window_days = features.window_days
            """,
            {"users": [user for user, _ in keys], "windows": [window for _, window in keys]},
        )
        names = [column[0] for column in cursor.description]
        for row in cursor.fetchall():
            record = dict(zip(names, row, strict=True))
            features[(record["user_id"], record["window_days"])] = record
    for item in items:
        actual = features.get((item["user_id"], item["window_days"]), {})
        item["facts"] = [
            {"name": fact.get("name"), "cited": fact.get("value"), "actual": actual.get(fact.get("name"))}
            for fact in _json_list(item.pop("cited_facts"))
        ]
        item["findings"] = _json_list(item.pop("guardrail_findings"))


def _json_list(text: str | None) -> list[dict]:
    """A stored JSON list of objects; anything else shows as one entry holding the raw text."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [{"name": "unreadable", "message": str(text)}]
    if not isinstance(value, list):
        return [{"name": "unreadable", "message": str(text)}]
    return [entry if isinstance(entry, dict) else {"name": str(entry)} for entry in value]


def queue_page(con: duckdb.DuckDBPyConnection, review_dir: Path, queue_filter: QueueFilter) -> QueuePage:
    view = create_items_view(con, review_dir)
    where, params = queue_filter.where_sql()
    total, clean_pending = con.execute(
        f"""
        select
            count(*),
            count(*) filter (where review_status = 'pending' and guardrail_status = 'pass')
        from {view}
        where {where}
        """,
        params,
    ).fetchall()[0]
    status_counts = dict.fromkeys(STATUSES[:-1], 0) | dict(
        con.execute(f"select review_status, count(*) from {view} group by all").fetchall()
    )
    pages = max(1, -(-total // queue_filter.size))
    primary, tie_breakers = SORTS[queue_filter.sort]
    direction = "desc" if queue_filter.descending else "asc"
    cursor = con.execute(
        f"""
        select {", ".join(_ITEM_COLUMNS)}
        from {view}
        where {where}
        order by {primary} {direction}, {tie_breakers}
        limit $limit offset $offset
        """,
        {**params, "limit": queue_filter.size, "offset": (queue_filter.page - 1) * queue_filter.size},
    )
    items = [dict(zip(_ITEM_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    _facts(con, items)
    return QueuePage(
        items=items,
        total=total,
        pages=pages,
        status_counts=status_counts,
        clean_pending=clean_pending,
    )


def clean_pending_ids(
    con: duckdb.DuckDBPyConnection, review_dir: Path, queue_filter: QueueFilter
) -> list[str]:
    """The ids bulk-approve takes for a filter: its pending items whose guardrail status is pass."""
    view = create_items_view(con, review_dir)
    where, params = queue_filter.where_sql()
    rows = con.execute(
        f"select recommendation_id from {view} where {where}"
        " and review_status = 'pending' and guardrail_status = 'pass' order by recommendation_id",
        params,
    ).fetchall()
    return [row[0] for row in rows]
