"""Which statement column holds what: header aliases, and mapping.json for the banks they miss."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from spendsense_dagster.lib.ingest.statements.decoding import DELIMITERS, ENCODINGS, StatementFileError

MAPPING_FILE = "mapping.json"
# Role -> the headers that name it, compared lower-case with spaces, '_' and '-' removed; in order of
# preference when a file has several (Chase exports both a Description and a Memo).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "transaction date", "posted date", "posting date", "booking date", "post date"),
    "description": (
        "description",
        "payee",
        "merchant",
        "name",
        "memo",
        "details",
        "transaction description",
        "merchant name",
    ),
    "amount": ("amount", "transaction amount"),
    "debit": ("debit", "withdrawal", "withdrawals", "debits", "debit amount", "money out", "paid out"),
    "credit": ("credit", "deposit", "deposits", "credits", "credit amount", "money in", "paid in"),
    "category": ("category",),
    "status": ("pending", "status"),
}
ROLES = tuple(HEADER_ALIASES)
# Date formats mapping.json may name, and the day/month order each gives numeric dates (the only
# dates whose reading depends on it: ISO, dotted and month-name dates read one way).
DATE_FORMATS = {
    "MM/DD/YYYY": "month_first",
    "MM-DD-YYYY": "month_first",
    "DD/MM/YYYY": "day_first",
    "DD-MM-YYYY": "day_first",
    "DD.MM.YYYY": "day_first",
    "YYYY-MM-DD": None,
    "MON D, YYYY": None,
}
DECIMAL_SEPARATORS = (".", ",")
# outflow_negative: -12.50 is money leaving (the project's convention); outflow_positive: 12.50 is.
SIGN_CONVENTIONS = ("outflow_negative", "outflow_positive")


def header_key(header: str) -> str:
    """Lower case without spaces, '_', '-' or a parenthesised note ("Amount (USD)" is "amount")."""
    return re.sub(r"[\s_\-]+", "", re.sub(r"\([^)]*\)", "", header).strip().lower())


@dataclass(frozen=True)
class StatementMapping:
    """mapping.json: every key optional. `columns` maps a role to the file's header text."""

    columns: dict[str, str]
    date_format: str | None = None  # a DATE_FORMATS key
    decimal_separator: str | None = None
    sign_convention: str = "outflow_negative"
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def date_order(self) -> str | None:
        """`day_first` / `month_first` for numeric dates when date_format says; None: from the values."""
        return DATE_FORMATS[self.date_format] if self.date_format else None


DEFAULT_MAPPING = StatementMapping(columns={})


def read_mapping(path: Path) -> StatementMapping:
    """The folder's mapping.json, checked key by key; absent means aliases and sniffing only."""
    if not path.is_file():
        return DEFAULT_MAPPING
    try:
        spec = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StatementFileError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(spec, dict):
        raise StatementFileError(f"{path}: expected a JSON object")
    known = {"columns", "date_format", "decimal_separator", "sign_convention", "encoding", "delimiter"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise StatementFileError(f"{path}: unknown keys {unknown}; allowed: {sorted(known)}")
    columns = spec.get("columns", {})
    if not isinstance(columns, dict) or not all(
        role in ROLES and isinstance(header, str) for role, header in columns.items()
    ):
        raise StatementFileError(f"{path}: columns must map roles {list(ROLES)} to header names")
    choices = {
        "date_format": tuple(DATE_FORMATS),
        "decimal_separator": DECIMAL_SEPARATORS,
        "sign_convention": SIGN_CONVENTIONS,
        "encoding": ENCODINGS,
        "delimiter": DELIMITERS,
    }
    for key, allowed in choices.items():
        if key in spec and spec[key] not in allowed:
            raise StatementFileError(f"{path}: {key} must be one of {list(allowed)}, got {spec[key]!r}")
    return StatementMapping(
        columns=dict(columns),
        date_format=spec.get("date_format"),
        decimal_separator=spec.get("decimal_separator"),
        sign_convention=spec.get("sign_convention", "outflow_negative"),
        encoding=spec.get("encoding"),
        delimiter=spec.get("delimiter"),
    )


def map_columns(header: list[str], mapping: StatementMapping, file_label: str) -> dict[str, int]:
    """Role -> column position. Needs date, description and either amount or debit and credit.

    mapping.json names win; the other roles come from the aliases, the first alias present winning.
    A repeated header, or a file without the needed roles, fails with the headers found, so the fix
    is obvious.
    """
    keys = [header_key(cell) for cell in header]
    found = ", ".join(repr(cell) for cell in header) or "none"
    positions: dict[str, int] = {}
    for role, name in mapping.columns.items():
        if header_key(name) not in keys:
            raise StatementFileError(
                f"{file_label}: mapping.json names column {name!r} for {role}, not among the headers "
                f"found: {found}"
            )
        positions[role] = keys.index(header_key(name))
    taken = set(positions.values())
    for role, aliases in HEADER_ALIASES.items():
        if role in positions:
            continue
        # The first alias present wins (Chase's "Description" over its "Memo").
        for alias in aliases:
            matches = [i for i, key in enumerate(keys) if key == header_key(alias) and i not in taken]
            if len(matches) > 1:
                raise StatementFileError(
                    f"{file_label}: the header {alias!r} appears {len(matches)} times; name the {role} "
                    f"column in {MAPPING_FILE}. Headers found: {found}"
                )
            if matches:
                positions[role] = matches[0]
                taken.add(matches[0])
                break
    has_amount = "amount" in positions or ("debit" in positions and "credit" in positions)
    missing = [role for role in ("date", "description") if role not in positions]
    if not has_amount:
        missing.append("amount (or debit and credit)")
    if missing:
        raise StatementFileError(
            f"{file_label}: cannot map the headers to {', '.join(missing)}. Headers found: {found}. "
            f"Recognised names: {_alias_help()}; or name the columns in {MAPPING_FILE}"
        )
    return positions


def _alias_help() -> str:
    return "; ".join(f"{role}: {', '.join(aliases)}" for role, aliases in HEADER_ALIASES.items())
