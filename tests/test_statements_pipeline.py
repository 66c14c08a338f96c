"""CSV statements through the whole pipeline (docs/statements.md), against answers worked out by hand
in tests/datasets/README.md (handmade_statements), and the overlap rule: statements that only repeat
the feed change no feature and no persona. One pipeline run per dataset, shared by the module."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spendsense_dagster.lib.core.settings import Settings
from spendsense_dagster.lib.evaluate.exports import ANALYTICS_MARTS
from spendsense_dagster.lib.evaluate.summary import warehouse_summary
from spendsense_dagster.lib.synthetic.statements import STYLES, write_statements
from tests.conftest import DATASETS
from tests.pipeline_runs import HANDMADE_AS_OF, environment, query, run_groups, run_pipeline, workspace_env

AS_OF = "2025-06-30"
D = date.fromisoformat
CHASE_MAY = "statements/acc_s1_chk/chase_2025-05.csv"
CHASE_JUNE = "statements/acc_s1_chk/chase_2025-06.csv"
AMEX = "statements/acc_s1_cc/amex.csv"
MAPPED = "statements/acc_s1_sav/umsaetze.csv"
EU = "statements/acc_s2_chk/eu_bank.csv"
SPLIT = "statements/acc_s2_chk/credit_union.csv"
WIN1252 = "statements/acc_s3_chk/export.csv"
AMBIGUOUS = "statements/acc_s4_chk/ambiguous.csv"
ORPHAN = "statements/acc_unknown/orphan.csv"

# (file, line) -> (date, amount, status, reason): every row of the dataset (README).
EXPECTED_ROWS = {
    (AMEX, 2): (D("2025-05-20"), -84.10, "accepted", None),
    (AMEX, 3): (D("2025-06-05"), -56.40, "accepted", None),
    (AMEX, 4): (D("2025-06-10"), 500.00, "accepted", None),
    (AMEX, 5): (D("2025-06-12"), -1234.56, "accepted", None),
    (AMEX, 6): (D("2025-06-15"), None, "rejected", "unsupported_currency"),
    (AMEX, 7): (None, -5.00, "rejected", "invalid_type"),
    (CHASE_MAY, 2): (D("2025-05-02"), -4.50, "accepted", None),
    (CHASE_MAY, 3): (D("2025-05-15"), -62.35, "accepted", None),
    (CHASE_MAY, 4): (D("2025-05-30"), 2000.00, "duplicate", "duplicate"),
    (CHASE_MAY, 5): (D("2025-06-01"), -1500.00, "accepted", None),
    (CHASE_MAY, 6): (D("2025-06-03"), -4.50, "duplicate", "duplicate"),
    (CHASE_MAY, 7): (D("2025-06-03"), -4.50, "accepted", None),
    (CHASE_JUNE, 2): (D("2025-06-01"), -1500.00, "duplicate", "duplicate"),
    (CHASE_JUNE, 3): (D("2025-06-03"), -4.50, "duplicate", "duplicate"),
    (CHASE_JUNE, 4): (D("2025-06-03"), -4.50, "duplicate", "duplicate"),
    (CHASE_JUNE, 5): (D("2025-06-13"), 2000.00, "duplicate", "duplicate"),
    (CHASE_JUNE, 6): (D("2025-06-14"), -15.49, "accepted", None),
    (CHASE_JUNE, 7): (D("2025-06-20"), -300.00, "accepted", None),
    (CHASE_JUNE, 8): (D("2025-06-22"), -7.25, "accepted", None),
    (CHASE_JUNE, 9): (D("2025-07-15"), -20.00, "rejected", "future_date"),
    (CHASE_JUNE, 10): (D("2025-06-25"), -1.00, "rejected", "malformed_row"),
    (CHASE_JUNE, 11): (D("2025-06-26"), None, "rejected", "missing_required_field"),
    (MAPPED, 2): (D("2025-06-20"), 300.00, "accepted", None),
    (MAPPED, 3): (D("2025-06-05"), -5.00, "accepted", None),
    (SPLIT, 2): (D("2025-06-13"), -4.75, "accepted", None),
    (SPLIT, 3): (D("2025-06-20"), 1.25, "accepted", None),
    (SPLIT, 4): (D("2025-06-28"), -40.00, "accepted", None),
    (SPLIT, 5): (D("2025-06-05"), -12.50, "accepted", None),
    (EU, 2): (D("2025-05-02"), 2500.00, "accepted", None),
    (EU, 3): (D("2025-05-05"), -45.10, "accepted", None),
    (EU, 4): (D("2025-06-01"), -1234.56, "accepted", None),
    (EU, 5): (D("2025-06-02"), 2500.00, "accepted", None),
    (EU, 6): (D("2025-06-15"), -60.00, "accepted", None),
    (WIN1252, 2): (D("2025-03-10"), -40.00, "accepted", None),
    (WIN1252, 3): (D("2025-04-10"), -50.00, "accepted", None),
    (WIN1252, 4): (D("2025-05-18"), 3100.00, "accepted", None),
    (WIN1252, 5): (D("2025-05-20"), -80.00, "accepted", None),
    (WIN1252, 6): (D("2025-06-04"), -18.20, "accepted", None),
    (WIN1252, 7): (D("2025-06-09"), -62.10, "accepted", None),
    (WIN1252, 8): (D("2025-06-18"), 3100.00, "accepted", None),
    (AMBIGUOUS, 2): (None, -10.00, "rejected", "ambiguous_date_order"),
    (AMBIGUOUS, 3): (None, -20.00, "rejected", "ambiguous_date_order"),
    (ORPHAN, 2): (D("2025-06-01"), -5.00, "rejected", "orphan_account"),
}


@pytest.fixture(scope="module")
def statements_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("statements")
    with environment(**workspace_env(root, DATASETS / "handmade_statements")):
        result = run_pipeline(AS_OF)
        summary = warehouse_summary(Settings.from_env())
    checks = {
        (check.asset_key.to_user_string(), check.check_name): check.passed
        for check in result.get_asset_check_evaluations()
    }
    assert checks[("raw/statement_verdicts", "row_conservation")]
    (root / "summary.txt").write_text(summary)
    return root


def _warehouse(root: Path) -> Path:
    return root / "warehouse" / "spendsense.duckdb"


def test_every_row_lands_with_its_date_amount_and_sign_or_a_reason(statements_workspace: Path):
    rows = query(
        _warehouse(statements_workspace),
        "select statement_file, line_number, transaction_date, amount, status, reason"
        " from intermediate.int_statement_rows_deduplicated",
    )
    got = {(f, line): (day, amount, status, reason) for f, line, day, amount, status, reason in rows}
    assert got.keys() == EXPECTED_ROWS.keys()
    for key, (day, amount, status, reason) in EXPECTED_ROWS.items():
        got_day, got_amount, got_status, got_reason = got[key]
        assert (got_day, got_status, got_reason) == (day, status, reason), key
        if amount is None:
            assert got_amount is None, key
        else:
            assert got_amount == pytest.approx(amount, abs=1e-9), key


def test_rejections_and_duplicates_are_quarantined_with_file_line_and_kept_id(statements_workspace: Path):
    rows = query(
        _warehouse(statements_workspace),
        "select source_file, record_index, reason, detail, payload from raw.rejected_records"
        " where entity = 'statement_rows'",
    )
    got = {(f, line): (reason, detail, payload) for f, line, reason, detail, payload in rows}
    expected = {key: value[3] for key, value in EXPECTED_ROWS.items() if value[2] != "accepted"}
    assert {key: value[0] for key, value in got.items()} == expected
    # Duplicates point at the kept id: the feed's, or the earlier statement's deterministic id.
    assert got[(CHASE_MAY, 4)][1] == "same account, date, amount and merchant as j1"
    assert got[(CHASE_JUNE, 3)][1].endswith(" j2")
    kept_rent = query(
        _warehouse(statements_workspace),
        "select transaction_id from intermediate.int_statement_rows_deduplicated"
        " where statement_file = ? and line_number = 5",
        [CHASE_MAY],
    )[0][0]
    assert kept_rent.startswith("stmt_") and got[(CHASE_JUNE, 2)][1].endswith(kept_rent)
    assert "no date of the file has a day above 12" in got[(AMBIGUOUS, 2)][1]
    assert got[(ORPHAN, 2)][2] == "2025-06-01,ORPHAN PURCHASE,-5.00"


def test_rows_are_conserved_and_reported(statements_workspace: Path):
    ((read, accepted),) = query(
        _warehouse(statements_workspace),
        "select (select count(*) from raw.statement_rows),"
        " (select count(*) from intermediate.int_transactions_unioned"
        " where transaction_source = 'statement')",
    )
    assert (read, accepted) == (len(EXPECTED_ROWS), 29)
    summary = (statements_workspace / "summary.txt").read_text()
    assert "statements: 9 files read, 43 rows: 29 accepted, 6 duplicates, 8 rejected" in summary
    assert "uncategorized: 2 of the accepted rows (6.9%)" in summary


def test_statement_ids_are_deterministic_hashes(statements_workspace: Path):
    ids = query(
        _warehouse(statements_workspace),
        "select transaction_id from intermediate.int_transactions_unioned"
        " where transaction_source = 'statement'",
    )
    assert len({row[0] for row in ids}) == 29
    # Two identical coffees on 06-03: the feed's (j2) and the second one, kept from chase_2025-05.
    coffees = query(
        _warehouse(statements_workspace),
        "select transaction_id from intermediate.int_transactions_unioned"
        " where account_id = 'acc_s1_chk' and transaction_date = '2025-06-03' order by transaction_id",
    )
    assert [row[0] for row in coffees][0] == "j2" and len(coffees) == 2


@pytest.mark.parametrize(
    ("mart", "key", "expected"),
    [
        ("monthly_category_spend", ("s1", "2025-05-01", "food_and_drink"), (150.95, 3)),
        ("monthly_category_spend", ("s1", "2025-06-01", "food_and_drink"), (65.40, 3)),
        ("monthly_category_spend", ("s1", "2025-06-01", "rent_and_utilities"), (1500.00, 1)),
        ("monthly_category_spend", ("s1", "2025-06-01", "travel"), (1234.56, 1)),
        ("monthly_category_spend", ("s1", "2025-06-01", "entertainment"), (15.49, 1)),
        ("monthly_category_spend", ("s1", "2025-06-01", "bank_fees"), (5.00, 1)),
        ("monthly_category_spend", ("s1", "2025-06-01", "uncategorized"), (7.25, 1)),
        ("monthly_category_spend", ("s2", "2025-05-01", "food_and_drink"), (45.10, 1)),
        ("monthly_category_spend", ("s2", "2025-06-01", "food_and_drink"), (77.25, 3)),
        ("monthly_category_spend", ("s2", "2025-06-01", "rent_and_utilities"), (1234.56, 1)),
        ("monthly_category_spend", ("s3", "2025-06-01", "food_and_drink"), (80.30, 2)),
        ("savings_rate", ("s1", "2025-05-01"), (2000.00, 150.95, 1849.05, 1849.05 / 2000)),
        ("savings_rate", ("s1", "2025-06-01"), (2000.00, 2827.70, -827.70, -827.70 / 2000)),
        ("savings_rate", ("s2", "2025-05-01"), (2500.00, 45.10, 2454.90, 2454.90 / 2500)),
        ("savings_rate", ("s2", "2025-06-01"), (2500.00, 1311.81, 1188.19, 1188.19 / 2500)),
        ("savings_rate", ("s3", "2025-04-01"), (0.0, 50.00, -50.00, None)),
        ("savings_rate", ("s3", "2025-06-01"), (3100.00, 80.30, 3019.70, 3019.70 / 3100)),
        ("spending_trend", ("s1", "2025-06-01"), (2827.70, 2676.75, None)),
        ("spending_trend", ("s2", "2025-05-01"), (45.10, None, None)),
        ("spending_trend", ("s3", "2025-06-01"), (80.30, 0.30, 80.30 - (40 + 50 + 80) / 3)),
    ],
)
def test_analytics_marts_equal_the_hand_worked_answers(statements_workspace: Path, mart, key, expected):
    columns = {
        "monthly_category_spend": ("user_id, month::varchar, category", "spend, transaction_count"),
        "savings_rate": ("user_id, month::varchar", "income, spend, net_savings, savings_rate"),
        "spending_trend": (
            "user_id, month::varchar",
            "spend, change_vs_previous_month, change_vs_3_month_average",
        ),
    }[mart]
    rows = query(
        _warehouse(statements_workspace),
        f"select {columns[1]} from marts.{mart} where ({columns[0]}) = ({', '.join('?' * len(key))})",
        list(key),
    )
    assert len(rows) == 1, (mart, key)
    assert rows[0] == pytest.approx(expected, abs=0.0051)


def test_marts_hold_only_the_rows_worked_out(statements_workspace: Path):
    warehouse = _warehouse(statements_workspace)
    assert query(warehouse, "select count(*) from marts.monthly_category_spend") == [(14,)]
    assert query(warehouse, "select count(*) from marts.savings_rate") == [(8,)]
    # Every month from the first transaction to June: s1 and s2 from May, s3 from March.
    assert query(warehouse, "select user_id, count(*) from marts.spending_trend group by 1 order by 1") == [
        ("s1", 2),
        ("s2", 2),
        ("s3", 4),
    ]


def test_top_merchants_merge_spellings_and_rank_by_spend(statements_workspace: Path):
    rows = query(
        _warehouse(statements_workspace),
        "select window_days, rank, merchant, spend, visits from marts.top_merchants"
        " where user_id = 's1' order by window_days, rank",
    )
    assert [row[2] for row in rows if row[0] == 30] == [
        "greystar rent", "delta air lines", "cheesecake factory", "netflix", "blue bottle", "corner kiosk",
        "monthly fee",
    ]  # fmt: skip
    # "Blue Bottle" (feed) and "SQ *BLUE BOTTLE #123 OAKLAND CA" (statements) are one merchant.
    assert (30, 5, "blue bottle", 9.0, 2) in rows and (180, 7, "blue bottle", 13.5, 3) in rows
    assert len([row for row in rows if row[0] == 180]) == 9


def test_consent_governs_the_marts_and_their_exports(statements_workspace: Path):
    warehouse = _warehouse(statements_workspace)
    for mart in ANALYTICS_MARTS:
        assert {row[0] for row in query(warehouse, f"select distinct user_id from marts.{mart}")} == {
            "s1",
            "s2",
            "s3",
        }, mart
    partition = statements_workspace / "exports" / f"as_of={AS_OF}"
    for mart in ANALYTICS_MARTS:
        users = set(pq.read_table(partition / f"{mart}.parquet", columns=["user_id"]).column(0).to_pylist())
        assert users == {"s1", "s2", "s3"}, mart  # s4 does not consent


# --- overlap: statements that only repeat the feed ---------------------------------------------


@pytest.fixture(scope="module")
def overlap_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """handmade_basic plus one CSV export per account in every bank style, repeating its transactions
    (including the pending one) with messy descriptions; ingest, features and personas only."""
    root = tmp_path_factory.mktemp("overlap")
    raw = root / "raw"
    raw.mkdir()
    for path in (DATASETS / "handmade_basic").iterdir():
        (raw / path.name).write_bytes(path.read_bytes())
    with duckdb.connect() as con:
        feed = con.execute(
            "select * from read_json(?, columns = {account_id: 'varchar', date: 'date', amount: 'double',"
            " merchant_name: 'varchar', category_primary: 'varchar', pending: 'boolean'})",
            [str(raw / "synthetic_transactions.json")],
        ).fetch_arrow_table()
    accounts = sorted(set(feed["account_id"].to_pylist()))
    exports = {
        account: (STYLES[i % len(STYLES)], feed.filter(pc.equal(feed["account_id"], account)))
        for i, account in enumerate(accounts)
    }
    write_statements(exports, raw, seed=3)
    with environment(**workspace_env(root, raw)):
        run_groups("ingest", "features", "personas", partition=HANDMADE_AS_OF)
    return root


@pytest.mark.parametrize("table", ["marts.user_features", "marts.user_personas", "marts.recurring_streams"])
def test_statements_repeating_the_feed_change_no_feature_or_persona(
    basic_workspace: Path, overlap_workspace: Path, table: str
):
    statement_rows = query(_warehouse(overlap_workspace), "select count(*) from raw.statement_rows")[0][0]
    assert statement_rows >= 70  # every feed transaction but the pending ones, in four bank styles
    columns = [
        row[0]
        for row in query(
            _warehouse(basic_workspace),
            "select column_name from information_schema.columns where table_schema || '.' || table_name = ?"
            " and data_type not like 'TIMESTAMP%' order by ordinal_position",
            [table],
        )
    ]
    select = f"select {', '.join(columns)} from {table} order by all"
    assert query(_warehouse(overlap_workspace), select) == query(_warehouse(basic_workspace), select)
    assert query(
        _warehouse(overlap_workspace),
        "select count(*) from intermediate.int_transactions_unioned where transaction_source = 'statement'",
    ) == [(0,)]


def test_every_repeated_row_is_a_duplicate_of_a_feed_transaction(overlap_workspace: Path):
    rows = query(
        _warehouse(overlap_workspace),
        "select status, count(*), count(*) filter (where duplicate_of like 'txn_%')"
        " from intermediate.int_statement_rows_deduplicated group by status",
    )
    footers = {status: n for status, n, _ in rows}.get("rejected", 0)
    assert {status for status, *_ in rows} <= {"duplicate", "rejected"}
    (duplicates,) = [(n, to_feed) for status, n, to_feed in rows if status == "duplicate"]
    assert duplicates[0] == duplicates[1] > 0
    # The footer lines (a closing balance without description or amount) are the only rejections.
    (footer_lines,) = query(
        _warehouse(overlap_workspace),
        "select count(*) from raw.statement_rows where nullif(trim(description_text), '') is null",
    )[0]
    assert footers == footer_lines
