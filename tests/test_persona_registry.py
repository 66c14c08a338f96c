"""One persona registry: dbt_project/seeds/personas.csv, as dbt loads it, as the SQL ranks with it and as
Python reads it, must agree. The seed lands in the warehouse as `seeds.personas` (dbt_project.yml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spendsense_dagster.lib.core.personas import FALLBACK_PERSONA, PERSONAS, REGISTRY, TARGET_PERSONAS
from spendsense_dagster.lib.core.settings import PROMPTS_DIR
from tests.pipeline_runs import query


@pytest.fixture(scope="module")
def warehouse(basic_workspace: Path) -> Path:
    return basic_workspace / "warehouse" / "spendsense.duckdb"


@pytest.fixture(scope="module")
def seed_priority(warehouse: Path) -> dict[str, int]:
    return dict(query(warehouse, "select persona, priority from seeds.personas"))


def test_the_seed_in_the_warehouse_is_the_python_registry_in_priority_order(warehouse: Path):
    by_priority = [row[0] for row in query(warehouse, "select persona from seeds.personas order by priority")]
    assert by_priority == list(PERSONAS)

    rows = query(warehouse, "select persona, priority, is_target from seeds.personas order by priority")
    assert rows == [(persona.name, persona.priority, persona.is_target) for persona in REGISTRY]
    assert [name for name, _, is_target in rows if not is_target] == [FALLBACK_PERSONA]


def test_matched_personas_follow_the_seed_priority_and_the_persona_is_the_first_match(
    warehouse: Path, seed_priority: dict[str, int]
):
    rows = query(
        warehouse,
        "select user_id, window_days, persona, matched_personas, reasoning from marts.user_personas",
    )
    assert rows
    # Not vacuous: handmade_basic has a customer matching two rules (u1) and one matching none.
    assert any(len(matched) >= 2 for _, _, _, matched, _ in rows)
    assert any(not matched for _, _, _, matched, _ in rows)

    for user_id, window, persona, matched, reasoning in rows:
        where = f"{user_id}/{window}d"
        assert set(matched) <= set(TARGET_PERSONAS), where
        assert matched == sorted(matched, key=seed_priority.__getitem__), where
        assert persona == (matched[0] if matched else FALLBACK_PERSONA), where
        # The reasoning lists the same personas in the same order, with the seed's priority.
        explained = json.loads(reasoning)
        assert [item["persona"] for item in explained] == matched, where
        assert [item["priority"] for item in explained] == [seed_priority[name] for name in matched], where


def test_every_registry_persona_has_a_prompt_and_every_prompt_a_persona():
    for persona in PERSONAS:
        assert (PROMPTS_DIR / f"{persona}.md").is_file(), f"prompts/{persona}.md is missing"
    prompt_personas = {path.stem for path in PROMPTS_DIR.glob("*.md")} - {"base"}
    assert prompt_personas == set(PERSONAS)


def test_every_registry_persona_has_templates_and_every_template_file_a_persona():
    templates_dir = PROMPTS_DIR / "templates"
    assert {path.stem for path in templates_dir.glob("*.md")} == set(PERSONAS)
