from pathlib import Path

import dagster as dg

from spendsense_dagster.definitions import build_definitions
from spendsense_dagster.defs.transform import DBT_BUILD_ARGS, SpendSenseTranslator, dbt_project
from spendsense_dagster.lib.core.settings import Settings
from tests.pipeline_runs import DATASETS, HANDMADE_AS_OF, environment, workspace_env


def _dbt_log_of(result: dg.ExecuteInProcessResult) -> str:
    """The dbt.log of the run's one dbt invocation (its target folder is named after the run)."""
    target = Path(dbt_project.project_dir) / dbt_project.target_path
    [log] = target.glob(f"*-{result.run_id[:8]}-*/dbt.log")
    return log.read_text()


def test_a_second_dbt_build_against_a_warehouse_keeps_the_partial_parse(tmp_path: Path):
    """No per-run --vars and the parse state kept per warehouse: dbt re-parses nothing on the next run.
    After the ingest, only one staging view is built (with its tests), so the two invocations stay short."""
    assert not any(arg.startswith("--vars") for arg in DBT_BUILD_ARGS)
    assert "unit_test" in DBT_BUILD_ARGS[DBT_BUILD_ARGS.index("--exclude-resource-type") + 1]
    with environment(**workspace_env(tmp_path, DATASETS / "handmade_basic")):
        defs = build_definitions(Settings.from_env())
        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
        ingest = dg.AssetSelection.groups("ingest")
        assert dg.materialize(
            assets, selection=ingest, resources=defs.resources, partition_key=HANDMADE_AS_OF
        ).success
        one_view = dg.AssetSelection.assets(dg.AssetKey(["staging", "stg_spendsense__products"]))
        logs = []
        for _ in range(2):
            result = dg.materialize(
                assets, selection=one_view, resources=defs.resources, partition_key=HANDMADE_AS_OF
            )
            assert result.success
            logs.append(_dbt_log_of(result))
    assert "stg_spendsense__products" in logs[1]
    assert "Unable to do partial parsing" not in logs[1]


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
