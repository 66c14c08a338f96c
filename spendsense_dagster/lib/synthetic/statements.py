"""CSV bank statements for `spendsense generate --statements` (docs/statements.md, docs/generator.md).

A share of the checking, savings and card accounts get one or two CSV exports in a bank's style
(a US bank, a card issuer, a European bank, a credit union), with the mess real exports have:
descriptions with processor prefixes, store numbers, city and state and other casing; amounts with
thousands separators, decimal commas, DR / CR marks or split debit and credit columns; a UTF-8 BOM
or Windows-1252. Each export covers about 40 days of its account. Its first 20 days are taken out of
the JSON feed (the statement is their only source); the rest repeat the feed (duplicates), and a
second export of an account overlaps the first by a week. Some exports end with a footer row
without an amount, which the ingest rejects. Drawn from a generator of its own, seeded from the
dataset's seed, so the feed without --statements is untouched.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STATEMENTS_DIR = "statements"
STATEMENT_SHARE = 0.3  # of the eligible accounts
_ELIGIBLE_TYPES = ("checking", "savings", "credit card")
_COVERED_DAYS = 40
_STATEMENT_ONLY_DAYS = 20
_SECOND_EXPORT_OVERLAP_DAYS = 7
_PREFIXES = ("SQ *", "TST* ", "PAYPAL *", "SP * ")
_PLACES = ("OAKLAND CA", "SAN FRANCISCO CA", "SEATTLE WA", "AUSTIN TX", "NEW YORK NY", "CHICAGO IL")
_SEED_OFFSET = 7_919  # keeps this generator's stream apart from the dataset's


@dataclass(frozen=True)
class BankStyle:
    name: str
    header: tuple[str, ...]
    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False


STYLES = (
    BankStyle("us_bank", ("Details", "Posting Date", "Description", "Amount", "Type", "Balance")),
    BankStyle("card_issuer", ("Date", "Description", "Amount", "Category")),
    BankStyle("eu_bank", ("Booking date", "Payee", "Amount", "Currency"), delimiter=";", bom=True),
    BankStyle(
        "credit_union",
        ("Transaction Date", "Memo", "Withdrawal", "Deposit", "Status"),
        delimiter="\t",
        encoding="windows-1252",
    ),
)


def statement_accounts(accounts: pa.Table, seed: int) -> list[tuple[str, BankStyle]]:
    """The accounts that get statements, each with its bank's style (card accounts: the card issuer)."""
    rng = np.random.default_rng(seed + _SEED_OFFSET)
    types = accounts["type"].to_pylist()
    ids = accounts["account_id"].to_pylist()
    chosen = []
    for account_id, account_type in zip(ids, types, strict=True):
        if account_type not in _ELIGIBLE_TYPES or rng.random() >= STATEMENT_SHARE:
            continue
        style = STYLES[1] if account_type == "credit card" else STYLES[int(rng.choice([0, 2, 3]))]
        chosen.append((account_id, style))
    return chosen


def split_feed(
    transactions: pa.Table, accounts: pa.Table, as_of: date, seed: int
) -> tuple[pa.Table, dict[str, tuple[BankStyle, pa.Table]]]:
    """(the feed without the statement-only days, account -> (style, its transactions to export))."""
    chosen = dict(statement_accounts(accounts, seed))
    account = pc.cast(transactions["account_id"], pa.string())
    covered_from = as_of - timedelta(days=_COVERED_DAYS + _STATEMENT_ONLY_DAYS)
    only_until = covered_from + timedelta(days=_STATEMENT_ONLY_DAYS)
    is_chosen = pc.is_in(account, value_set=pa.array(list(chosen), pa.string()))
    in_cover = pc.and_(
        pc.greater_equal(transactions["date"], pa.scalar(covered_from, pa.date32())),
        pc.less(transactions["date"], pa.scalar(covered_from + timedelta(days=_COVERED_DAYS), pa.date32())),
    )
    statement_only = pc.and_(
        pc.and_(is_chosen, in_cover), pc.less(transactions["date"], pa.scalar(only_until, pa.date32()))
    )
    exported = transactions.filter(pc.and_(is_chosen, in_cover))
    exported = exported.set_column(
        exported.schema.get_field_index("account_id"),
        "account_id",
        pc.cast(exported["account_id"], pa.string()),
    )
    per_account = {}
    for account_id, style in chosen.items():
        rows = exported.filter(pc.equal(exported["account_id"], account_id)).sort_by("date")
        if rows.num_rows:
            per_account[account_id] = (style, rows)
    return transactions.filter(pc.invert(statement_only)), per_account


def write_statements(
    per_account: dict[str, tuple[BankStyle, pa.Table]], out_dir: Path, seed: int
) -> dict[str, int]:
    """Write `<out_dir>/statements/<account_id>/<style>_<n>.csv`, replacing the folder; returns
    file (relative path) -> data rows."""
    rng = np.random.default_rng(seed + 2 * _SEED_OFFSET)
    root = out_dir / STATEMENTS_DIR
    shutil.rmtree(root, ignore_errors=True)
    counts: dict[str, int] = {}
    for account_id, (style, rows) in per_account.items():
        records = rows.select(["date", "amount", "merchant_name", "category_primary", "pending"]).to_pylist()
        exports = [records]
        if len(records) > 6 and rng.random() < 0.35:
            # Two exports overlapping by a week, as when a user downloads twice.
            cut = records[len(records) // 2]["date"]
            overlap_from = cut - timedelta(days=_SECOND_EXPORT_OVERLAP_DAYS)
            exports = [
                [r for r in records if r["date"] < cut],
                [r for r in records if r["date"] >= overlap_from],
            ]
        folder = root / account_id
        folder.mkdir(parents=True, exist_ok=True)
        for n, export in enumerate(exports, start=1):
            lines = [
                _row(style, record, rng)
                for record in export
                if not record["pending"] or style.name == "credit_union"
            ]
            if rng.random() < 0.2:
                lines.append(_footer(style))
            path = folder / f"{style.name}_{n}.csv"
            path.write_bytes(_encode(style, lines, _day_first(export)))
            counts[f"{STATEMENTS_DIR}/{account_id}/{path.name}"] = len(lines)
    return counts


def _day_first(records: list[dict]) -> bool:
    """The credit union writes DD/MM/YYYY only when a day above 12 makes the order plain."""
    return any(record["date"].day > 12 for record in records)


def _description(name: str | None, rng: np.random.Generator) -> str:
    """The feed's merchant name as a bank prints it; the same merchant key either way."""
    text = name or "POS PURCHASE"
    roll = rng.random()
    if roll < 0.25:
        text = rng.choice(_PREFIXES) + text
    elif roll < 0.45:
        text = f"{text} #{rng.integers(100, 9999)}"
    elif roll < 0.6:
        text = f"{text} {rng.choice(_PLACES)}"
    return text.title() if rng.random() < 0.2 else text.upper()


def _row(style: BankStyle, record: dict, rng: np.random.Generator) -> list:
    day: date = record["date"]
    amount: float = record["amount"]
    description = _description(record["merchant_name"], rng)
    if style.name == "us_bank":
        kind = "DEBIT" if amount < 0 else "CREDIT"
        return [kind, day.strftime("%m/%d/%Y"), description, f"{amount:,.2f}", f"{kind}_CARD", ""]
    if style.name == "card_issuer":
        mark = "DR" if amount < 0 else "CR"
        category = (record["category_primary"] or "").replace("_", " ").title()
        return [f"{day:%b} {day.day}, {day.year}", description, f"${abs(amount):,.2f} {mark}", category]
    if style.name == "eu_bank":
        text = f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        return [day.strftime("%d.%m.%Y"), description, text, "USD"]
    if rng.random() < 0.5:
        # A reference after an en dash: a byte only Windows-1252 has, in this style's encoding.
        description = f"{description} \u2013 REF {rng.integers(10_000, 99_999)}"
    status = "Pending" if record["pending"] else "Posted"
    debit, credit = (f"{-amount:.2f}", "") if amount < 0 else ("", f"{amount:.2f}")
    return [day, description, debit, credit, status]


def _footer(style: BankStyle) -> list:
    """A closing-balance line without an amount: rejected as missing_required_field."""
    cells = [""] * len(style.header)
    cells[0] = "CLOSING BALANCE"
    return cells


def _encode(style: BankStyle, lines: list[list], day_first: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=style.delimiter, lineterminator="\r\n")
    writer.writerow(style.header)
    for cells in lines:
        if style.name == "credit_union" and isinstance(cells[0], date):
            cells = [cells[0].strftime("%d/%m/%Y" if day_first else "%Y-%m-%d"), *cells[1:]]
        writer.writerow(cells)
    data = buffer.getvalue().encode(style.encoding, errors="replace")
    return (b"\xef\xbb\xbf" if style.bom else b"") + data
