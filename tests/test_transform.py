import json

import dagster as dg

from spendsense_dagster.defs.transform import SpendSenseTranslator, dbt_build_args


def test_dbt_build_args_pin_the_as_of_date_and_convention():
    args = dbt_build_args("2025-06-30", "plaid")
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {"as_of_date": "2025-06-30", "amount_convention": "plaid"}


def test_translator_puts_sources_on_the_ingest_assets_and_models_under_their_schema():
    translator = SpendSenseTranslator()
    source = {"resource_type": "source", "name": "transactions", "config": {}, "schema": "raw"}
    run_context = {"resource_type": "source", "name": "run_context", "config": {}, "schema": "raw"}
    model = {
        "resource_type": "model",
        "name": "user_features",
        "config": {"schema": "marts"},
        "schema": "marts",
    }
    assert translator.get_asset_key(source) == dg.AssetKey(["raw", "transactions"])
    assert translator.get_asset_key(run_context) == dg.AssetKey(["raw", "transactions"])
    assert translator.get_asset_key(model) == dg.AssetKey(["marts", "user_features"])
    assert translator.get_group_name(model) == "features"
    assert translator.get_group_name({**model, "name": "user_personas"}) == "personas"
