"""The ingest library on hand-made inputs with known answers (tests/datasets/README.md)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendsense_dagster.lib.ingest import loader as ingest
from spendsense_dagster.lib.ingest.entities import REJECTION_REASONS, PlausibilityBounds

DATASETS = Path(__file__).resolve().parent / "datasets"
BASIC = DATASETS / "handmade_basic"
BROKEN = DATASETS / "handmade_broken"
CATALOG = "product_catalog.json"
ENTITIES = ("users", "accounts", "transactions", "liabilities", "products")
AS_OF = date(2025, 6, 30)


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory):
    """A warehouse loaded once from handmade_broken, for the tests that only read it."""
    connection = duckdb.connect(str(tmp_path_factory.mktemp("broken") / "warehouse.duckdb"))
    loads = ingest_all(connection, BROKEN)
    yield connection, loads
    connection.close()


def ingest_all(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> dict[str, ingest.EntityLoad]:
    """Every entity in the order the assets run them, with the default as-of date."""
    return {
        "users": ingest.ingest_users(con, raw_dir),
        "accounts": ingest.ingest_accounts(con, raw_dir),
        "transactions": ingest.ingest_transactions(con, raw_dir, None),
        "liabilities": ingest.ingest_liabilities(con, raw_dir),
        "products": ingest.ingest_products(con, raw_dir / CATALOG),
    }


def table_rows(con: duckdb.DuckDBPyConnection, table: str, drop: tuple[str, ...] = ()) -> list[tuple]:
    exclude = f"exclude ({', '.join(drop)})" if drop else ""
    return con.execute(f"select * {exclude} from {table} order by all").fetchall()


def records(path: Path) -> list:
    return json.loads(path.read_text())


def write_ndjson(path: Path, items: list) -> None:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))


def write_users(folder: Path, users: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_ndjson(folder / "synthetic_users.ndjson", users)
    return folder


def user(user_id: str, **fields) -> dict:
    return {"user_id": user_id, "consent_status": True, "user_type": "customer", **fields}


# --- the hand-made datasets ---------------------------------------------------------------------


def test_basic_dataset_is_accepted_whole(con):
    loads = ingest_all(con, BASIC)

    counts = {entity: (load.records_read, load.accepted, load.rejected) for entity, load in loads.items()}
    assert counts == {
        "users": (6, 6, 0),
        "accounts": (11, 11, 0),
        "transactions": (77, 77, 0),
        "liabilities": (3, 3, 0),
        "products": (3, 3, 0),
    }
    assert loads["transactions"].as_of_date == AS_OF
    assert loads["users"].files == ["synthetic_users.json"]


def test_basic_dataset_known_answers(con):
    ingest_all(con, BASIC)

    spend_30d = con.execute(
        """
        select round(sum(-amount), 2) from raw.transactions
        where user_id = 'u1' and amount < 0 and not pending and "date" > date '2025-06-30' - 30
          and category_primary not in ('TRANSFER_OUT', 'LOAN_PAYMENTS')
        """
    ).fetchall()
    assert spend_30d == [(280.51,)]
    assert con.execute("select count(*) from raw.transactions where pending").fetchall() == [(1,)]
    assert con.execute("select user_type, count(*) from raw.users group by all order by all").fetchall() == [
        ("customer", 5),
        ("operator", 1),
    ]


def test_every_broken_record_gets_its_reason(broken):
    con, loads = broken

    got = con.execute("select entity, record_key, reason from raw.rejected_records order by all").fetchall()
    expected = [
        (r["entity"], r["record_key"], r["reason"]) for r in records(BROKEN / "expected_rejections.json")
    ]
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert {reason for _, _, reason in got} == set(REJECTION_REASONS)
    for load in loads.values():
        assert load.records_read == load.accepted + load.rejected, load
        assert sum(load.rejected_by_reason.values()) == load.rejected


def test_rejected_records_keep_the_original_payload_and_position(broken):
    con, _ = broken

    rows = con.execute(
        "select entity, source_file, record_index, payload, detail from raw.rejected_records"
    ).fetchall()
    assert rows
    for entity, source_file, record_index, payload, detail in rows:
        assert json.loads(payload) == records(BROKEN / source_file)[record_index], (entity, record_index)
        assert detail
    details = dict(
        con.execute(
            "select record_key, detail from raw.rejected_records where entity = 'transactions'"
        ).fetchall()
    )
    assert details["txn_b05"] == "amount is not a number: 12,50"
    assert details["txn_b03"] == "user_id u2 but account_id acc_u1_chk belongs to u1"
    assert details["txn_0001"] == "transaction_id txn_0001 first seen in synthetic_transactions.json record 0"
    # plausibility bounds and repeated keys (docs/ingest.md)
    assert details["txn_b08"] == "amount -1e+308 is beyond ±10,000,000"
    assert details["txn_b09"] == "repeated field(s): amount"
    assert details["txn_b10"] == "amount -1e-05 is not zero but smaller than 0.0001"
    other_details = dict(
        con.execute(
            "select record_key, detail from raw.rejected_records"
            " where entity in ('users', 'accounts', 'liabilities')"
        ).fetchall()
    )
    assert other_details["u_two_consents"] == "repeated field(s): consent_status"
    assert other_details["acc_u4_huge"] == "balance_available 2000000000000000.0 is beyond ±1,000,000,000"
    assert other_details["lia_u2_apr_typo"] == "apr_purchase 2749 is above 100"


def test_valid_rows_of_the_broken_dataset_equal_the_basic_dataset(con, broken):
    ingest_all(con, BASIC)
    broken_con, _ = broken

    for entity in ENTITIES:
        assert table_rows(broken_con, f"raw.{entity}") == table_rows(con, f"raw.{entity}"), entity


def test_conservation_check_recounts_the_files(broken):
    con, _ = broken

    assert ingest.conservation_check(con, "users", BROKEN) == (12, 6, 6)
    assert ingest.conservation_check(con, "transactions", BROKEN) == (88, 77, 11)
    assert ingest.conservation_check(con, "products", BROKEN / CATALOG) == (4, 3, 1)


def test_reingesting_the_same_files_is_idempotent(con):
    first = ingest_all(con, BROKEN)
    tables = {
        name: table_rows(con, name) for name in [f"raw.{e}" for e in ENTITIES] + ["raw.rejected_records"]
    }
    second = ingest_all(con, BROKEN)

    assert second == first
    for name, rows in tables.items():
        assert table_rows(con, name) == rows, name
    assert con.execute(
        "select count(*) from information_schema.tables where table_name like '\\_loading%' escape '\\'"
    ).fetchall() == [(0,)]


# --- formats --------------------------------------------------------------------------------------


def _as_ndjson_and_parquet(tmp_path: Path) -> tuple[Path, Path]:
    """handmade_basic rewritten as NDJSON (transactions split over .ndjson and .jsonl) and as Parquet."""
    ndjson_dir, parquet_dir = tmp_path / "ndjson", tmp_path / "parquet"
    ndjson_dir.mkdir()
    parquet_dir.mkdir()
    for source in BASIC.glob("*.json"):
        items = records(source)
        if source.name == "synthetic_transactions.json":
            write_ndjson(ndjson_dir / "synthetic_transactions_1.ndjson", items[:40])
            write_ndjson(ndjson_dir / "synthetic_transactions_2.jsonl", items[40:])
        else:
            write_ndjson(ndjson_dir / f"{source.stem}.ndjson", items)
        pq.write_table(pa.Table.from_pylist(items), parquet_dir / f"{source.stem}.parquet")
    return ndjson_dir, parquet_dir


def test_json_array_ndjson_and_parquet_give_identical_tables(con, tmp_path: Path):
    ndjson_dir, parquet_dir = _as_ndjson_and_parquet(tmp_path)
    tables = {}
    for name, folder, catalog in [
        ("array", BASIC, BASIC / CATALOG),
        ("ndjson", ndjson_dir, ndjson_dir / "product_catalog.ndjson"),
        ("parquet", parquet_dir, parquet_dir / "product_catalog.parquet"),
    ]:
        ingest.ingest_users(con, folder)
        ingest.ingest_accounts(con, folder)
        load = ingest.ingest_transactions(con, folder, None)
        ingest.ingest_liabilities(con, folder)
        ingest.ingest_products(con, catalog)
        assert (load.records_read, load.rejected) == (77, 0), name
        tables[name] = {e: table_rows(con, f"raw.{e}", drop=("source_file",)) for e in ENTITIES}

    assert tables["ndjson"] == tables["array"]
    assert tables["parquet"] == tables["array"]
    assert load.files == ["synthetic_transactions.parquet"]


def test_split_files_are_read_in_name_order_and_duplicates_keep_the_first(con, tmp_path: Path):
    folder = tmp_path / "raw"
    folder.mkdir()
    write_ndjson(folder / "synthetic_users_b.ndjson", [user("u1", full_name="second file"), user("u2")])
    (folder / "synthetic_users_a.json").write_text(json.dumps([user("u1", full_name="first file")]))

    load = ingest.ingest_users(con, folder)

    assert load.files == ["synthetic_users_a.json", "synthetic_users_b.ndjson"]
    assert con.execute(
        "select user_id, full_name, source_file from raw.users order by user_id"
    ).fetchall() == [
        ("u1", "first file", "synthetic_users_a.json"),
        ("u2", None, "synthetic_users_b.ndjson"),
    ]
    assert con.execute("select source_file, record_index, reason from raw.rejected_records").fetchall() == [
        ("synthetic_users_b.ndjson", 0, "duplicate_key")
    ]


def test_record_positions_hold_across_many_chunks(con, tmp_path: Path):
    """Positions come from the reader, not from the order rows are stored in (DuckDB works in
    chunks of 2,048 rows and may insert them in any order)."""
    users = [user(f"u{i}", consent_status="maybe" if i % 997 == 0 else True) for i in range(6000)]
    load = ingest.ingest_users(con, write_users(tmp_path, users))

    assert (load.accepted, load.rejected) == (5993, 7)
    assert con.execute("select record_index, record_key from raw.rejected_records order by 1").fetchall() == [
        (i, f"u{i}") for i in range(0, 6000, 997)
    ]


# --- bad files ------------------------------------------------------------------------------------


def test_a_file_that_is_not_json_names_the_file_and_line(con):
    with pytest.raises(
        ingest.IngestError, match=r"not_json/synthetic_users\.json: not valid JSON at line 1\b"
    ):
        ingest.ingest_users(con, DATASETS / "not_json")


@pytest.mark.parametrize(
    ("file_name", "text", "line"),
    [
        (
            "synthetic_users.ndjson",
            '{"user_id": "u1"}\n\n{"user_id": "u2"}\n{"user_id": "u3", "x": tru}\n{}\n',
            4,
        ),
        ("synthetic_users.jsonl", '{"user_id": "u1"}\n{"user_id": "u2"\n{"user_id": "u3"}\n', 2),
        ("synthetic_users.json", '[\n  {"user_id": "u1"},\n  {"user_id": "u2",, "x": 1}\n]\n', 3),
    ],
)
def test_a_malformed_line_is_located(con, tmp_path: Path, file_name: str, text: str, line: int):
    (tmp_path / file_name).write_text(text)

    with pytest.raises(ingest.IngestError, match=rf"{file_name}: not valid JSON at line {line}\b"):
        ingest.ingest_users(con, tmp_path)


def test_an_unreadable_parquet_file_is_named(con, tmp_path: Path):
    (tmp_path / "synthetic_users.parquet").write_bytes(b"PAR1 not really parquet")

    with pytest.raises(ingest.IngestError, match=r"synthetic_users\.parquet: not a readable Parquet file"):
        ingest.ingest_users(con, tmp_path)


def test_a_failed_ingest_leaves_the_previous_tables_untouched(con, tmp_path: Path):
    ingest_all(con, BROKEN)
    before = {name: table_rows(con, name) for name in ("raw.users", "raw.rejected_records")}
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(BASIC / "synthetic_users.json", bad / "synthetic_users_1.json")
    (bad / "synthetic_users_2.ndjson").write_text('{"user_id": "u9", "consent_status": true}\nnot json\n')

    with pytest.raises(ingest.IngestError, match=r"synthetic_users_2\.ndjson: not valid JSON at line 2\b"):
        ingest.ingest_users(con, bad)

    for name, rows in before.items():
        assert table_rows(con, name) == rows, name
    assert con.execute(
        "select count(*) from duckdb_tables() where table_name like '%loading%'"
    ).fetchall() == [(0,)]


def test_required_inputs_must_exist_and_optional_ones_may_not(con, tmp_path: Path):
    with pytest.raises(ingest.IngestError, match="no users input"):
        ingest.ingest_users(con, tmp_path)
    with pytest.raises(ingest.IngestError, match="ingest users first"):
        ingest.ingest_accounts(con, BASIC)

    only_required = tmp_path / "raw"
    only_required.mkdir()
    for name in ("synthetic_users.json", "synthetic_accounts.json", "synthetic_transactions.json"):
        shutil.copy(BASIC / name, only_required / name)
    loads = ingest_all(con, only_required)

    assert (loads["liabilities"].records_read, loads["liabilities"].files) == (0, [])
    assert (loads["products"].records_read, loads["products"].files) == (0, [])
    assert table_rows(con, "raw.liabilities") == []
    assert [row[0] for row in con.execute("describe raw.products").fetchall()][-3:] == [
        "priority",
        "active",
        "source_file",
    ]


# --- as-of date and run context -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "today", "expected", "future_dated"),
    [
        (None, None, AS_OF, 1),  # the 2099 record is ignored, then rejected
        (None, date(2025, 6, 10), date(2025, 6, 10), 19),  # latest date not after today
        (None, date(2024, 12, 31), date(2099, 12, 31), 0),  # every date is later: the latest
        (date(2025, 5, 31), None, date(2025, 5, 31), 31),  # explicit wins
    ],
)
def test_as_of_resolution(con, explicit, today, expected, future_dated):
    ingest.ingest_users(con, BROKEN)
    ingest.ingest_accounts(con, BROKEN)
    load = ingest.ingest_transactions(con, BROKEN, explicit, today=today)

    assert load.as_of_date == expected
    assert load.rejected_by_reason.get("future_date", 0) == future_dated
    assert con.execute("select as_of_date, amount_convention, raw_dir from raw.run_context").fetchall() == [
        (expected, "spendsense", str(BROKEN))
    ]


def test_plaid_convention_is_recorded_and_amounts_kept_as_given(con):
    ingest_all(con, BASIC)
    amounts = table_rows(con, "raw.transactions")
    ingest.ingest_transactions(con, BASIC, None, "plaid")

    assert con.execute("select amount_convention from raw.run_context").fetchall() == [("plaid",)]
    assert table_rows(con, "raw.transactions") == amounts
    with pytest.raises(ValueError, match="amount_convention"):
        ingest.ingest_transactions(con, BASIC, None, "negative")


# --- field typing and the order of checks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (user("u1", consent_status="true"), None),
        (user("u1", consent_status=" FALSE "), None),
        (user("u1", consent_status=1), "invalid_type"),
        (user("u1", consent_status=None), "missing_required_field"),
        (user("u1", user_type=" Operator "), None),
        (user("u1", user_type="admin"), "invalid_value"),
        (user("u1", created_at="2024-02-30"), "invalid_type"),
        (user("u1", created_at=""), None),  # blank optional value: null
        (user("u1", full_name={"first": "A"}), "invalid_type"),
        (user("u1", full_name="[Refund] is text, not JSON"), None),
        (user("u1", unknown_field=[1, 2]), None),
        (user(""), "missing_required_field"),
        (user(42), None),  # a number where text is expected: its text
        ([user("u1")], "not_an_object"),
        (None, "not_an_object"),
    ],
)
def test_user_field_checks(con, tmp_path: Path, record, reason):
    ingest.ingest_users(con, write_users(tmp_path, [record]))

    rejected = con.execute("select reason from raw.rejected_records").fetchall()
    assert rejected == ([(reason,)] if reason else [])


def test_typed_values(con, tmp_path: Path):
    write_users(
        tmp_path,
        [
            user(
                "u1",
                user_type="Operator",
                consent_status="false",
                created_at="2025-01-01T10:00:00+02:00",
                consent_granted_at="2025-01-01T10:00:00Z",
                consent_revoked_at="   ",
            )
        ],
    )
    write_ndjson(
        tmp_path / "synthetic_accounts.ndjson",
        [
            {
                "account_id": "a1",
                "user_id": "u1",
                "type": "Credit",
                "balance_limit": "2500.50",
                "iso_currency_code": "usd",
            }
        ],
    )
    write_ndjson(
        tmp_path / "synthetic_transactions.ndjson",
        [
            {
                "transaction_id": 7,
                "account_id": "a1",
                "date": "2025-06-01",
                "amount": "-12.5",
                "pending": "true",
            }
        ],
    )
    ingest.ingest_users(con, tmp_path)
    ingest.ingest_accounts(con, tmp_path)
    ingest.ingest_transactions(con, tmp_path, None)

    users = con.execute(
        "select user_type, consent_status, strftime(created_at, '%H:%M'),"
        " strftime(consent_granted_at, '%H:%M'),"
        " consent_revoked_at from raw.users"
    ).fetchall()
    assert users == [("operator", False, "08:00", "10:00", None)]
    assert con.execute("select balance_limit, iso_currency_code from raw.accounts").fetchall() == [
        (2500.5, "usd")
    ]
    assert con.execute(
        'select transaction_id, user_id, amount, pending, "date" from raw.transactions'
    ).fetchall() == [("7", "u1", -12.5, True, date(2025, 6, 1))]


def test_products_lists_integers_and_booleans(con, tmp_path: Path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        json.dumps(
            [
                {
                    "product_id": "p1",
                    "product_name": "A",
                    "persona_targets": ["x", "y"],
                    "priority": "2",
                    "active": True,
                },
                {"product_id": "p2", "product_name": "B", "persona_targets": "x", "priority": 1},
                {"product_id": "p3", "product_name": "C", "min_income": -5},
            ]
        )
    )
    load = ingest.ingest_products(con, catalog)

    assert con.execute(
        "select product_id, persona_targets, priority, active from raw.products"
    ).fetchall() == [("p1", ["x", "y"], 2, True)]
    assert load.rejected_by_reason == {"invalid_type": 1, "invalid_value": 1}


def test_the_first_failing_check_is_the_reason(con, tmp_path: Path):
    users = [
        user("u1"),
        {"consent_status": "maybe", "user_type": "robot"},  # missing id before invalid type and value
        user("u2", consent_status="maybe", user_type="robot"),  # invalid type before invalid value
        user("u3", consent_status="maybe"),  # invalid: does not claim the key u3
        user("u3"),  # so this one is the first valid u3 and is kept
    ]
    ingest.ingest_users(con, write_users(tmp_path, users))
    write_ndjson(
        tmp_path / "synthetic_accounts.ndjson",
        [
            {"account_id": "a1", "user_id": "u1", "type": "checking"},
            {"account_id": "a1", "user_id": "ghost", "type": "checking"},  # duplicate before orphan
            {"account_id": "a2", "user_id": "ghost", "type": "credit card", "iso_currency_code": "EUR"},
        ],
    )
    ingest.ingest_accounts(con, tmp_path)
    write_ndjson(
        tmp_path / "synthetic_transactions.ndjson",
        [
            {"transaction_id": "t1", "account_id": "a2", "user_id": "u9", "date": "2099-01-01", "amount": 1},
            {"transaction_id": "t2", "account_id": "a1", "user_id": "u3", "date": "2025-01-01", "amount": 1},
        ],
    )
    ingest.ingest_transactions(con, tmp_path, date(2025, 6, 30))

    assert con.execute(
        "select entity, record_index, reason from raw.rejected_records order by all"
    ).fetchall() == [
        ("accounts", 1, "duplicate_key"),
        ("accounts", 2, "unsupported_currency"),  # before invalid_credit_limit and orphan_user
        ("transactions", 0, "future_date"),  # before orphan_account
        ("transactions", 1, "user_mismatch"),
        ("users", 1, "missing_required_field"),
        ("users", 2, "invalid_type"),
        ("users", 3, "invalid_type"),
    ]
    assert table_rows(con, "raw.users", drop=("source_file",))[-1][0] == "u3"


def test_plausibility_bounds_are_configurable(con):
    ingest.ingest_users(con, BASIC)
    ingest.ingest_accounts(con, BASIC)
    load = ingest.ingest_transactions(con, BASIC, AS_OF, bounds=PlausibilityBounds(amount=2_500))

    over = con.execute(
        "select count(*) from read_json(?) where abs(amount) > 2500",
        [str(BASIC / "synthetic_transactions.json")],
    ).fetchall()[0][0]
    assert over > 0 and load.rejected_by_reason == {"invalid_value": over}
    ingest.ingest_accounts(con, BASIC, bounds=PlausibilityBounds(balance=10_000))
    balances = con.execute(
        "select record_key, detail from raw.rejected_records where entity = 'accounts' order by all"
    ).fetchall()
    assert [key for key, _ in balances] == [
        "acc_u1_brk",
        "acc_u1_sav",
        "acc_u4_loan",
    ]  # 25,000, 12,000, 12,000
    assert all("is beyond ±10,000" in detail for _, detail in balances)
