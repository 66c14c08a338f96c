from pathlib import Path

import pytest

from spendsense_dagster.lib.core.settings import PROJECT_ROOT, Settings


def test_defaults_live_under_the_repository_and_the_offline_generator_is_chosen():
    settings = Settings.from_env({})
    assert settings.raw_dir == PROJECT_ROOT / "data" / "raw"
    assert settings.warehouse_path == PROJECT_ROOT / "data" / "warehouse" / "spendsense.duckdb"
    assert settings.export_uri == str(PROJECT_ROOT / "data" / "exports")
    assert settings.generator_name == "template"


def test_given_paths_are_relative_to_the_working_directory_and_s3_uris_are_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {
            "SPENDSENSE_RAW_DIR": "input",
            "SPENDSENSE_EXPORT_URI": "s3://bucket/prefix",
            "OPENAI_API_KEY": "k",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )
    assert settings.raw_dir == Path(tmp_path / "input").resolve()
    assert settings.export_uri == "s3://bucket/prefix"
    assert settings.generator_name == "openai"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"


def test_an_unknown_amount_convention_is_a_clear_error():
    with pytest.raises(ValueError, match="SPENDSENSE_AMOUNT_CONVENTION"):
        Settings.from_env({"SPENDSENSE_AMOUNT_CONVENTION": "sideways"})


def test_plausibility_bounds_are_configurable_within_a_cap():
    settings = Settings.from_env({"SPENDSENSE_MAX_ABS_AMOUNT": "5000", "SPENDSENSE_MAX_APR": "36"})
    assert (settings.max_abs_amount, settings.max_apr) == (5000.0, 36.0)
    assert settings.max_abs_balance == 1_000_000_000  # the documented default
    with pytest.raises(ValueError, match="SPENDSENSE_MAX_ABS_AMOUNT must be greater than 0 and at most 1e"):
        Settings.from_env({"SPENDSENSE_MAX_ABS_AMOUNT": "1e308"})  # accepted sums could overflow
    with pytest.raises(ValueError, match="SPENDSENSE_MAX_APR must be a number"):
        Settings.from_env({"SPENDSENSE_MAX_APR": "lots"})


def test_duckdb_memory_limit_and_temp_directory_reach_the_pipeline_connection(tmp_path):
    from spendsense_dagster.defs.resources import SpendSenseResource

    warehouse = tmp_path / "w.duckdb"
    default = Settings.from_env({"SPENDSENSE_WAREHOUSE": str(warehouse)})
    assert default.duckdb_config == {"memory_limit": "3GB", "temp_directory": f"{warehouse}.tmp"}
    settings = Settings.from_env(
        {
            "SPENDSENSE_WAREHOUSE": str(warehouse),
            "SPENDSENSE_DUCKDB_MEMORY_LIMIT": "512MB",
            "SPENDSENSE_DUCKDB_TEMP_DIR": str(tmp_path / "spill"),
        }
    )
    with SpendSenseResource.from_settings(settings).connect() as con:
        limit, temp = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert limit.replace(" ", "") in ("488.2MiB", "512.0MB", "512MB")
    assert temp == str(tmp_path / "spill")


@pytest.mark.parametrize("value", ["lots", "3", "-1GB", "3 GB;drop"])
def test_a_bad_duckdb_memory_limit_is_a_clear_error(value):
    with pytest.raises(ValueError, match="SPENDSENSE_DUCKDB_MEMORY_LIMIT"):
        Settings.from_env({"SPENDSENSE_DUCKDB_MEMORY_LIMIT": value})


def test_the_engine_is_duckdb_unless_spark_is_asked_for_and_reaches_the_resource(tmp_path):
    from spendsense_dagster.defs.resources import SpendSenseResource
    from spendsense_dagster.lib.core.marts_reader import dbt_target_args

    assert Settings.from_env({}).engine == "duckdb"
    assert dbt_target_args(Settings.from_env({})) == []
    settings = Settings.from_env(
        {"SPENDSENSE_ENGINE": " Spark ", "SPENDSENSE_WAREHOUSE": str(tmp_path / "w.duckdb")}
    )
    assert settings.engine == "spark"
    assert dbt_target_args(settings) == ["--target", "spark"]
    assert settings.spark_warehouse_dir == tmp_path / "w.duckdb.spark"
    assert SpendSenseResource.from_settings(settings).settings == settings


def test_an_unknown_engine_is_a_clear_error():
    with pytest.raises(ValueError, match="SPENDSENSE_ENGINE"):
        Settings.from_env({"SPENDSENSE_ENGINE": "postgres"})
