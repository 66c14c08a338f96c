"""The persona registry: names, priority and target flag, read from the dbt seed both sides share.

`dbt_project/seeds/personas.csv` is the one home of the persona list. dbt orders matched personas by
its `priority` (models/marts/user_personas.sql); Python reads the same file here. The rules
themselves live in dbt (macros/persona_rules.sql); tests/test_persona_registry.py proves the two agree.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from spendsense_dagster.lib.core.settings import DBT_PROJECT_DIR

REGISTRY_PATH = DBT_PROJECT_DIR / "seeds" / "personas.csv"


@dataclass(frozen=True)
class Persona:
    name: str
    priority: int
    is_target: bool  # one of the rule-based personas; false for the no-rule-matched fallback
    description: str


def load_registry(path: Path = REGISTRY_PATH) -> tuple[Persona, ...]:
    """The personas in priority order; the registry must hold exactly one non-target persona, last."""
    with open(path, newline="", encoding="utf-8") as handle:
        personas = sorted(
            (
                Persona(
                    name=row["persona"].strip(),
                    priority=int(row["priority"]),
                    is_target=row["is_target"].strip().lower() == "true",
                    description=row["description"].strip(),
                )
                for row in csv.DictReader(handle)
            ),
            key=lambda persona: persona.priority,
        )
    fallbacks = [persona for persona in personas if not persona.is_target]
    if len(fallbacks) != 1 or fallbacks[0] is not personas[-1]:
        raise ValueError(f"{path}: exactly one persona with is_target=false, with the lowest priority")
    if len({persona.priority for persona in personas}) != len(personas):
        raise ValueError(f"{path}: priorities must be unique")
    return tuple(personas)


REGISTRY = load_registry()
PERSONAS = tuple(persona.name for persona in REGISTRY)
TARGET_PERSONAS = tuple(persona.name for persona in REGISTRY if persona.is_target)
FALLBACK_PERSONA = PERSONAS[-1]
