"""The SQL that types and checks records, generated from an `EntitySpec`.

Each record is written once, to the staging table `raw._loading_<entity>`, which becomes the clean table
once the rejected records are deleted and the helper columns dropped (writing millions of rows is the
dominant cost, so there is no second copy). Two set-based steps decide the rejections:

1. `stage_file_sql`, once per file: type each field and run the per-record checks, in order
   not_an_object -> duplicate_field -> missing_required_field -> invalid_type -> invalid_value
   (invalid_value includes the plausibility bounds).
2. `rejections_sql`, over the staged records that passed step 1: the entity rules
   (unsupported_currency, invalid_credit_limit, future_date), then duplicate_key among the records still
   valid (the first in (file name, record index) order is kept), then the parent checks against the
   already-loaded table (orphan_user / orphan_account, then user_mismatch).

A record's first failing check is its one reason. Detail texts show the offending value, truncated.
Afterwards `fill_owner_sql` takes a missing user_id from the parent account.
"""

from __future__ import annotations

from spendsense_dagster.lib.core.sql import quote_identifier as _quote
from spendsense_dagster.lib.core.sql import sql_string as _sql_string
from spendsense_dagster.lib.ingest.entities import (
    KIND_DESCRIPTIONS,
    MIN_MONEY_MAGNITUDE,
    MONEY_BOUNDS,
    EntitySpec,
    Field,
    PlausibilityBounds,
    Rule,
)

REJECTED_TABLE = "_ingest_rejected"
HELPER_COLUMNS = ("record_pos", "record_index", "reason", "detail")

# A timestamp text ending in a UTC offset ("+02:00", "-0500", "+00"): converted to UTC, not dropped.
_UTC_OFFSET_PATTERN = r"\d:\d\d(:\d\d(\.\d+)?)?\s*[+-]\d\d(:?\d\d)?$"


def staging_table(spec: EntitySpec) -> str:
    return f"raw._loading_{spec.entity}"


def staging_table_ddl(spec: EntitySpec) -> str:
    """Contract columns and source_file, then the helper columns dropped before publishing."""
    columns = ", ".join(f"{_quote(field.name)} {field.sql_type}" for field in spec.fields)
    return f"""
        create or replace table {staging_table(spec)} (
            {columns}, source_file varchar,
            record_pos bigint, record_index bigint, reason varchar, detail varchar
        )
    """


def stage_file_sql(
    spec: EntitySpec,
    relation_sql: str,
    file_name: str,
    first_pos: int,
    bounds: PlausibilityBounds,
) -> str:
    """Insert one file's records, typed and checked; record_pos = first_pos + record_index.

    The records stream from the reader (`sources.numbered_records`) through the typing and checks into
    the (compressing) write, on every core.
    """
    typed = ", ".join(f"{_typed_sql(field)} as {_quote(field.name)}" for field in spec.fields)
    columns = ", ".join(_quote(field.name) for field in spec.fields)
    checks = _record_checks(spec, bounds)
    return f"""
        insert into {staging_table(spec)}
        with source as not materialized (
            {relation_sql}
        ),
        typed as (
            select *, {typed} from source
        ),
        checked as (
            select *, {_first_failure(checks, "reason")} as reason from typed
        ),
        final as (
            select
                {columns},
                {_sql_string(file_name)} as source_file,
                {first_pos} + record_index as record_pos,
                record_index,
                reason,
                case when reason is not null then {_first_failure(checks, "detail")} end as detail
            from checked
        )
        select * from final
    """


def rejections_sql(spec: EntitySpec) -> str:
    """Every rejected record with its one reason; `$as_of` is bound when a rule needs it."""
    key = _quote(spec.key)
    rules = list(spec.rules)
    parent_checks, parent_join = _parent_checks(spec)
    return f"""
        create or replace temp table {REJECTED_TABLE} as
        -- Not materialised: `ruled` is read twice, and a copy of every staged row and column (21.5 M
        -- rows at 100,000 users) cost more than reading the table twice.
        with staged as not materialized (
            select * from {staging_table(spec)}
        ),
        ruled as not materialized (
            select * replace (
                {_first_failure(rules, "reason", earlier="staged")} as reason,
                {_first_failure(rules, "detail", earlier="staged")} as detail
            )
            from staged
        ),
        repeated_key_hashes as (
            -- Keys are nearly always unique: grouping every key's 64-bit hash is far cheaper than
            -- grouping the keys with their first positions, and leaves the few keys to look at.
            select hash({key}) as key_hash
            from ruled
            where reason is null
            group by key_hash
            having count(*) > 1
        ),
        first_occurrences as (
            select
                {key},
                min(record_pos) as first_pos,
                arg_min(source_file, record_pos) as first_file,
                arg_min(record_index, record_pos) as first_index
            from ruled
            where reason is null
                and hash({key}) in (select key_hash from repeated_key_hashes)
            group by {key}
            having count(*) > 1
        ),
        deduplicated as (
            select ruled.* replace (
                case
                    when ruled.reason is not null then ruled.reason
                    when ruled.record_pos > first.first_pos then 'duplicate_key'
                end as reason,
                case
                    when ruled.reason is not null then ruled.detail
                    when ruled.record_pos > first.first_pos
                        then '{spec.key} ' || ruled.{key} || ' first seen in ' || first.first_file
                            || ' record ' || first.first_index
                end as detail
            )
            from ruled
            left join first_occurrences as first on ruled.{key} = first.{key}
        ),
        parented as (
            select deduplicated.* replace (
                {_first_failure(parent_checks, "reason", earlier="deduplicated")} as reason,
                {_first_failure(parent_checks, "detail", earlier="deduplicated")} as detail
            )
            from deduplicated
            {parent_join}
        ),
        final as (
            select record_pos, source_file, record_index, {key} as record_key, reason, detail
            from parented
            where reason is not null
        )
        select * from final
    """


def delete_rejected_sql(spec: EntitySpec) -> str:
    return f"""
        delete from {staging_table(spec)}
        where record_pos in (select record_pos from {REJECTED_TABLE})
    """


def drop_helper_columns_sql(spec: EntitySpec) -> str:
    return "; ".join(f"alter table {staging_table(spec)} drop column {column}" for column in HELPER_COLUMNS)


def fill_owner_sql(spec: EntitySpec) -> str | None:
    """Take a missing owner (user_id) from the parent account, or None when the entity has no owner."""
    parent = spec.parent
    if parent is None or parent.owner is None:
        return None
    key, owner = _quote(parent.key), _quote(parent.owner)
    return f"""
        update {staging_table(spec)} as staged
        set {owner} = parent.{owner}
        from {parent.table} as parent
        where staged.{owner} is null and staged.{key} = parent.{key}
    """


def _parent_checks(spec: EntitySpec) -> tuple[list[Rule], str]:
    """orphan (the parent is not loaded), then user_mismatch (the record names another owner),
    and the join they need; no checks when the entity has no parent."""
    parent = spec.parent
    if parent is None:
        return [], ""
    key = _quote(parent.key)
    owner_column = "null::varchar" if parent.owner is None else _quote(parent.owner)
    join = f"""left join (
                select {key} as parent_key, {owner_column} as parent_owner from {parent.table}
            ) as parent on deduplicated.{key} = parent.parent_key"""
    checks = [
        Rule(parent.reason, "parent_key is null", f"'{parent.key} ' || deduplicated.{key} || ' is unknown'")
    ]
    if parent.owner is not None:
        owner = _quote(parent.owner)
        checks.append(
            Rule(
                "user_mismatch",
                f"deduplicated.{owner} <> parent_owner",
                f"'{parent.owner} ' || deduplicated.{owner} || ' but {parent.key} ' || deduplicated.{key}"
                " || ' belongs to ' || parent_owner",
            )
        )
    return checks, join


def _record_checks(spec: EntitySpec, bounds: PlausibilityBounds) -> list[Rule]:
    """The per-record checks of step 1, in the order they decide a record's reason."""
    checks = [
        Rule("not_an_object", "not is_object", "'the record is not a JSON object'"),
        # Readers disagree on which of two values is meant (DuckDB keeps the first, Python the last).
        Rule("duplicate_field", "repeated_fields is not null", "'repeated field(s): ' || repeated_fields"),
    ]
    checks += [
        Rule("missing_required_field", _missing_sql(field), f"'{field.name} is missing'")
        for field in spec.fields
        if field.required
    ]
    checks += [
        Rule(
            "invalid_type",
            # typed null first: it is rarely true, so the rest is seldom evaluated
            f"{_quote(field.name)} is null and not {_missing_sql(field)}",
            f"'{field.name} is not {KIND_DESCRIPTIONS[field.kind]}: ' || left({_text(field)}, 80)",
        )
        for field in spec.fields
    ]
    for field in spec.fields:
        value = _quote(field.name)
        shown = f"'{field.name} ' || left({_text(field)}, 80)"
        if field.allowed:
            options = ", ".join(_sql_string(option) for option in field.allowed)
            checks.append(
                Rule(
                    "invalid_value",
                    f"{value} not in ({options})",
                    f"{shown} || ' is not one of {', '.join(field.allowed)}'",
                )
            )
        if field.kind == "double":
            checks.append(
                Rule("invalid_value", f"isinf({value}) or isnan({value})", f"{shown} || ' is not finite'")
            )
        if field.non_negative:
            checks.append(Rule("invalid_value", f"{value} < 0", f"{shown} || ' is negative'"))
        if field.bound is not None:
            checks.extend(_bound_checks(field, getattr(bounds, field.bound)))
    return checks


def _bound_checks(field: Field, bound: float) -> list[Rule]:
    """invalid_value beyond the field's plausibility bound (and, for money, a non-zero speck below
    MIN_MONEY_MAGNITUDE): no accepted value can overflow a sum, a variance or a ratio in the models."""
    value, limit = _quote(field.name), repr(float(bound))
    shown = f"'{field.name} ' || left({_text(field)}, 80)"
    if field.bound not in MONEY_BOUNDS:
        return [Rule("invalid_value", f"{value} > {limit}", f"{shown} || ' is above {_number(bound)}'")]
    return [
        Rule("invalid_value", f"abs({value}) > {limit}", f"{shown} || ' is beyond ±{_number(bound)}'"),
        Rule(
            "invalid_value",
            f"{value} <> 0 and abs({value}) < {MIN_MONEY_MAGNITUDE!r}",
            f"{shown} || ' is not zero but smaller than {MIN_MONEY_MAGNITUDE}'",
        ),
    ]


def _number(value: float) -> str:
    """10000000.0 -> '10,000,000', 99.5 -> '99.5' (for detail texts)."""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _first_failure(checks: list[Rule], part: str, earlier: str | None = None) -> str:
    """A CASE giving the reason (or detail) of the first failing check.

    `earlier` names the relation whose reason/detail columns hold the verdict of the previous steps:
    a record already rejected keeps it.
    """
    whens = [f"when {earlier}.reason is not null then {earlier}.{part}"] if earlier else []
    whens += [
        f"when {check.condition} then {_sql_string(check.reason) if part == 'reason' else check.detail}"
        for check in checks
    ]
    if not whens:
        return "null::varchar"
    return "case " + " ".join(whens) + " end"


def _missing_sql(field: Field) -> str:
    """Absent, JSON null, or a blank string (trimmed only when it starts with a space)."""
    text = _text(field)
    return f"({text} is null or {text} = '' or (starts_with({text}, ' ') and trim({text}) = ''))"


def _typed_sql(field: Field) -> str:
    """The typed value; null when absent, blank, or not of the field's kind.

    Written as CASE branches so that DuckDB runs the costly part (json_valid, the offset regex, lower)
    only on the few rows whose cheap test selects them.
    """
    text = _text(field)
    if field.kind == "text":
        if field.allowed:
            return f"lower(trim({text}))"
        return (
            f"case when {_maybe_container_sql(text)} "
            f"then case when json_valid({text}) then null else {text} end else {text} end"
        )
    if field.kind in ("double", "date"):
        return f"try_cast({text} as {field.sql_type})"
    if field.kind == "integer":
        number = f"try_cast({text} as double)"
        return (
            f"case when {number} = trunc({number}) and abs({number}) <= 2147483647 then {number}::integer end"
        )
    if field.kind == "boolean":
        return (
            f"case when {text} = 'true' then true when {text} = 'false' then false "
            f"when lower(trim({text})) = 'true' then true when lower(trim({text})) = 'false' then false end"
        )
    if field.kind == "timestamp":
        # "YYYY-MM-DD HH:MM:SS" is 19 characters: only longer texts can carry an offset, and a
        # trailing Z (UTC) is already read right by the plain cast.
        return (
            f"case when length({text}) > 19 and not ends_with({text}, 'Z') "
            f"and regexp_matches({text}, '{_UTC_OFFSET_PATTERN}') "
            f"then timezone('UTC', try_cast({text} as timestamptz)) "
            f"else try_cast({text} as timestamp) end"
        )
    if field.kind == "text_list":
        return (
            f"case when starts_with({text}, '[') and json_valid({text}) "
            f"then json_extract_string({text}, '$[*]') end"
        )
    raise ValueError(f"unknown field kind {field.kind!r}")


def _maybe_container_sql(text: str) -> str:
    """The value may be a JSON object or array (the readers give those as their JSON text)."""
    return f"(starts_with({text}, '{{') or starts_with({text}, '['))"


def _text(field: Field) -> str:
    return _quote(f"text_{field.name}")
