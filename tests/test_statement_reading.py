"""Reading CSV statements (docs/statements.md): encodings, delimiters, header aliases, mapping.json and
the errors that name the file and its headers. Pure functions and the ingest on a real DuckDB file."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from spendsense_dagster.defs.statements import raw_statements
from spendsense_dagster.lib.ingest.statements.columns import DEFAULT_MAPPING, map_columns, read_mapping
from spendsense_dagster.lib.ingest.statements.decoding import (
    StatementFileError,
    decode_bytes,
    decode_statement,
    sniff_delimiter,
)
from spendsense_dagster.lib.ingest.statements.loader import ingest_statements
from tests.pipeline_runs import environment, workspace_env

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("Café".encode(), "Café", "utf-8"),
        (BOM + "Café".encode(), "Café", "utf-8-sig"),
        ("Café".encode("windows-1252"), "Café", "windows-1252"),
        (BOM + "Café €5".encode("windows-1252"), "Café €5", "windows-1252-sig"),
    ],
)
def test_encodings_are_told_apart(data: bytes, text: str, encoding: str):
    assert decode_bytes(data) == (text, encoding)


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("Date,Description,Amount", ","),
        ("Date;Payee;Amount", ";"),
        ("Date\tName\tAmount", "\t"),
        ("Date", ","),
    ],
)
def test_the_header_line_gives_the_delimiter(header: str, delimiter: str):
    assert sniff_delimiter(header) == delimiter


def test_rows_keep_their_file_line_numbers_across_blank_lines_and_quoted_newlines():
    data = b'\r\nDate,Description,Amount\r\n2025-06-01,"two\r\nlines",-1.00\r\n\r\n2025-06-02,x,-2.00\r\n'
    decoded = decode_statement(data)
    assert decoded.header == ["Date", "Description", "Amount"]
    assert [(line, cells) for line, cells, _ in decoded.rows] == [
        (3, ["2025-06-01", "two\r\nlines", "-1.00"]),
        (6, ["2025-06-02", "x", "-2.00"]),
    ]


def test_aliases_map_case_and_space_insensitively_and_the_first_alias_wins():
    # Chase exports "Details" (debit/credit) before "Description": description is preferred.
    header = ["Details", "POSTING  DATE", "Description", "amount", "Type", "Balance"]
    assert map_columns(header, DEFAULT_MAPPING, "f.csv") == {
        "date": 1,
        "description": 2,
        "amount": 3,
    }
    assert map_columns(["Date", "Memo", "Withdrawal", "Deposit", "Status"], DEFAULT_MAPPING, "f.csv") == {
        "date": 0,
        "description": 1,
        "debit": 2,
        "credit": 3,
        "status": 4,
    }


def test_unmappable_headers_name_the_file_and_list_the_headers():
    with pytest.raises(StatementFileError) as error:
        map_columns(["Buchungstag", "Verwendungszweck", "Betrag"], DEFAULT_MAPPING, "statements/a/x.csv")
    message = str(error.value)
    assert message.startswith("statements/a/x.csv: cannot map the headers to date, description, amount")
    assert "Headers found: 'Buchungstag', 'Verwendungszweck', 'Betrag'" in message


def test_mapping_json_names_columns_and_is_checked(tmp_path: Path):
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps({"columns": {"date": "Buchungstag", "description": "Text", "amount": "Betrag"}})
    )
    mapping = read_mapping(path)
    assert map_columns(["Buchungstag", "Text", "Betrag"], mapping, "f.csv") == {
        "date": 0,
        "description": 1,
        "amount": 2,
    }
    path.write_text(json.dumps({"date_format": "YY/DD/MM"}))
    with pytest.raises(StatementFileError, match="date_format must be one of"):
        read_mapping(path)
    path.write_text(json.dumps({"columns": {"when": "Buchungstag"}}))
    with pytest.raises(StatementFileError, match="columns must map roles"):
        read_mapping(path)


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_ingest_writes_one_row_per_line_and_replaces_the_previous_load(tmp_path: Path):
    raw = tmp_path / "raw"
    _write(raw / "statements" / "acc_1", "a.csv", "Date,Description,Amount\n2025-06-01,Coffee,-4.50\n")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        load = ingest_statements(con, raw, 1e7)
        assert (load.files, load.rows_read) == (["statements/acc_1/a.csv"], 1)
        rows = con.execute(
            "select statement_file, line_number, account_id, date_text, description_text, amount_text"
            " from raw.statement_rows"
        ).fetchall()
        assert rows == [("statements/acc_1/a.csv", 2, "acc_1", "2025-06-01", "Coffee", "-4.50")]
        _write(raw / "statements" / "acc_1", "b.csv", "Foo,Bar\n1,2\n")
        with pytest.raises(StatementFileError, match=r"statements/acc_1/b.csv: cannot map .* 'Foo', 'Bar'"):
            ingest_statements(con, raw, 1e7)
        # A failed load leaves the previous tables as they were.
        assert con.execute("select count(*) from raw.statement_rows").fetchall() == [(1,)]


def test_empty_cells_past_the_header_do_not_make_a_row_malformed(tmp_path: Path):
    raw = tmp_path / "raw"
    text = "Date,Description,Amount\n2025-06-01,Coffee,-4.50,,\n2025-06-02,Tea,-3.00,oops\n2025-06-03,Cake\n"
    _write(raw / "statements" / "acc_1", "a.csv", text)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ingest_statements(con, raw, 1e7)
        counts = con.execute("select line_number, cell_count from raw.statement_rows order by 1").fetchall()
    assert counts == [(2, 3), (3, 4), (4, 2)]  # the last two are malformed_row in dbt


def test_an_empty_export_is_a_file_without_rows(tmp_path: Path):
    raw = tmp_path / "raw"
    _write(raw / "statements" / "acc_1", "empty.csv", "\n\n")
    _write(raw / "statements" / "acc_1", "header_only.csv", "Date,Description,Amount\n")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        load = ingest_statements(con, raw, 1e7)
        assert load.rows_read == 0 and len(load.files) == 2
        assert con.execute("select count(*) from raw.statement_files").fetchall() == [(2,)]


def test_the_asset_fails_naming_the_file_and_its_headers(tmp_path: Path):
    raw = tmp_path / "raw"
    _write(raw / "statements" / "acc_9", "export.csv", "When;What;How much\n01.06.2025;x;1,00\n")
    from spendsense_dagster.definitions import build_definitions
    from spendsense_dagster.lib.core.settings import Settings

    with environment(**workspace_env(tmp_path, raw)):
        resources = build_definitions(Settings.from_env()).resources
        result = dg.materialize([raw_statements], resources=resources, raise_on_error=False)
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "statements/acc_9/export.csv: cannot map the headers" in message
    assert "Headers found: 'When', 'What', 'How much'" in message
