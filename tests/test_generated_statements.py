"""`spendsense generate --statements` (docs/statements.md, "The generator"): deterministic CSV exports in
four bank styles that the statement reader maps, overlapping the feed, with the feed unchanged
without the flag and losing exactly the statement-only days with it."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import duckdb

from spendsense_dagster.lib.ingest.statements.loader import find_statement_files, ingest_statements
from spendsense_dagster.lib.synthetic.dataset import generate_dataset
from spendsense_dagster.lib.synthetic.statements import STYLES

AS_OF = date(2025, 6, 30)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _transactions(folder: Path) -> Counter:
    with duckdb.connect() as con:
        rows = con.execute(
            "select account_id, date::varchar, round(amount * 100)::bigint, pending"
            " from read_json(?, columns = {account_id: 'varchar', date: 'date', amount: 'double',"
            " pending: 'boolean'})",
            [str(folder / "synthetic_transactions.json")],
        ).fetchall()
    return Counter(rows)


def test_statements_are_deterministic_and_leave_the_plain_feed_alone(tmp_path: Path):
    plain = generate_dataset(tmp_path / "plain", users=30, seed=11, as_of=AS_OF)
    first = generate_dataset(tmp_path / "a", users=30, seed=11, as_of=AS_OF, statements=True)
    second = generate_dataset(tmp_path / "b", users=30, seed=11, as_of=AS_OF, statements=True)
    assert first == second and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert not (tmp_path / "plain" / "statements").exists()
    statement_files = [name for name in first if name.startswith("statements/")]
    assert statement_files and set(first) - set(statement_files) == set(plain)
    # Users, accounts and liabilities are the same; only the transactions file loses rows.
    for name in ("synthetic_users.json", "synthetic_accounts.json", "synthetic_liabilities.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    assert first["synthetic_transactions.json"] < plain["synthetic_transactions.json"]


def test_every_export_is_read_and_covers_what_left_the_feed(tmp_path: Path):
    counts = generate_dataset(tmp_path / "s", users=30, seed=11, as_of=AS_OF, statements=True)
    generate_dataset(tmp_path / "plain", users=30, seed=11, as_of=AS_OF)
    files = find_statement_files(tmp_path / "s")
    assert {path.name.rsplit("_", 1)[0] for path in files} == {style.name for style in STYLES}
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        load = ingest_statements(con, tmp_path / "s", 1e7)  # every header maps: no error
        assert load.rows_read == sum(n for name, n in counts.items() if name.startswith("statements/"))
        encodings = dict(con.execute("select statement_file, encoding from raw.statement_files").fetchall())
    # The credit union's en dashes make its files Windows-1252 (a file without one is plain ASCII).
    assert "windows-1252" in {encoding for name, encoding in encodings.items() if "credit_union" in name}
    assert {encoding for name, encoding in encodings.items() if "eu_bank" in name} == {"utf-8-sig"}
    # What left the feed belongs to accounts with statements.
    removed = _transactions(tmp_path / "plain") - _transactions(tmp_path / "s")
    assert removed and {account for account, *_ in removed} <= {path.parent.name for path in files}
