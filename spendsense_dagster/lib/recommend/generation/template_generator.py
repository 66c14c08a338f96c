"""The offline `template` generator: persona education pieces filled with the user's own numbers.

Deterministic, free and needs no key, so the pipeline runs anywhere. The templates are data, one
markdown file per persona under prompts/templates/ (see `templates`). A `{placeholder}` is a feature
column (formatted by `formats`) or a value derived from features or recurring streams. A template is
used only when every placeholder it names has a value, so nothing is ever filled with a guess; the
features behind its placeholders become its cited facts, with the exact values of the features row
(guardrails compare them).

Content carries no disclaimer: the recommendation asset stores it beside every item, as for `openai`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from spendsense_dagster.lib.core.personas import FALLBACK_PERSONA
from spendsense_dagster.lib.recommend.formats import (
    DERIVED_VALUES,
    as_number,
    derived_values,
    format_feature,
    money,
)
from spendsense_dagster.lib.recommend.generation.base import context_hash
from spendsense_dagster.lib.recommend.generation.templates import (
    TEMPLATES_DIR,
    EducationTemplate,
    TemplateFile,
    load_template_files,
    templates_version,
)
from spendsense_dagster.lib.recommend.guardrails.markup import UNNAMED_MERCHANT, plain_text
from spendsense_dagster.lib.recommend.models import (
    CitedFact,
    GeneratedItem,
    GenerationResult,
    ItemMetadata,
    UserContext,
)

MIN_ITEMS, MAX_ITEMS = 2, 3


@dataclass(frozen=True)
class Placeholder:
    text: str
    cites: tuple[str, ...]  # feature columns the text is computed from


def _quoted(merchant_name: str) -> str:
    # A merchant name is feed data: plain text on one line, no markup, whatever the feed sent.
    return f'"{plain_text(merchant_name) or UNNAMED_MERCHANT}"'


def _quoted_list(names: Sequence[str]) -> str:
    quoted = [_quoted(name) for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _placeholders(context: UserContext) -> dict[str, Placeholder]:
    """Every value a template may name for this user; absent when its data is null."""
    features = context.features
    values = {
        name: Placeholder(format_feature(name, value), (name,))
        for name in features
        if (value := as_number(features[name])) is not None
    }
    values["window_days"] = Placeholder(str(context.window_days), ())
    for name, value in derived_values(features).items():
        if name != "monthly_surplus" or value > 0:  # a surplus only when income exceeds spend
            values[name] = Placeholder(money(value), DERIVED_VALUES[name].sources)
    streams = sorted(
        context.recurring_streams, key=lambda stream: (-stream.monthly_cost, stream.merchant_name)
    )
    if streams:
        values["top_merchants"] = Placeholder(
            _quoted_list([stream.merchant_name for stream in streams[:3]]), ()
        )
    upcoming = sorted(
        (stream.next_expected_date, stream.merchant_name) for stream in streams if stream.next_expected_date
    )
    if upcoming:
        expected, merchant = upcoming[0]
        values["next_renewal"] = Placeholder(f"{_quoted(merchant)}, expected around {expected}", ())
    return values


_FORMATTER = string.Formatter()


def _unwrap(markdown: str) -> str:
    """One line per paragraph or list item: the templates are wrapped for reading the source only."""
    lines: list[str] = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if lines and lines[-1] and stripped and not stripped.startswith("- "):
            lines[-1] += " " + stripped
        else:
            lines.append(stripped)
    return "\n".join(lines)


def _field_names(text: str) -> list[str]:
    return [field for _, field, _, _ in _FORMATTER.parse(text) if field]


def fill_template(
    template: EducationTemplate, context: UserContext, values: Mapping[str, Placeholder]
) -> GeneratedItem | None:
    """The item for this user, or None when the template does not apply or any of its data is null."""
    if not template.applies(context.features):
        return None
    texts = (template.title, _unwrap(template.content), template.rationale)
    fields = [field for text in texts for field in _field_names(text)]
    if any(field not in values for field in fields):
        return None
    filled = {field: values[field].text for field in fields}
    title, content, rationale = (text.format_map(filled) for text in texts)
    cited = dict.fromkeys(name for field in fields for name in values[field].cites)  # ordered, unique
    return GeneratedItem(
        title=title,
        content=content,
        rationale=rationale,
        cited_facts=[CitedFact(name=name, value=context.features[name]) for name in cited],
        metadata=ItemMetadata(priority=template.priority, tags=list(template.tags)),
    )


def template_items(context: UserContext, files: Mapping[str, TemplateFile]) -> list[GeneratedItem]:
    """Up to three items: the persona's templates first, the fallback persona's when its data is thin."""
    values = _placeholders(context)
    general_templates = files[FALLBACK_PERSONA].templates
    persona_templates = files[context.persona].templates if context.persona in files else general_templates
    candidates = persona_templates + tuple(t for t in general_templates if t not in persona_templates)
    items: list[GeneratedItem] = []
    for template in candidates:
        # General templates only top up a persona that could not fill two of its own.
        if len(items) == MAX_ITEMS or (template not in persona_templates and len(items) >= MIN_ITEMS):
            break
        if (item := fill_template(template, context, values)) is not None:
            items.append(item)
    return items


class TemplateGenerator:
    name = "template"
    model = "template-v1"

    def __init__(self, templates_dir: Path = TEMPLATES_DIR):
        # Read once per run: every user of a persona gets the same templates and version.
        self._files = load_template_files(templates_dir)

    def prompt_version(self, persona: str) -> str:
        return templates_version(self._files, persona if persona in self._files else FALLBACK_PERSONA)

    def generate(self, context: UserContext) -> GenerationResult:
        items = template_items(context, self._files)
        enough = len(items) >= MIN_ITEMS
        return GenerationResult(
            user_id=context.user_id,
            window_days=context.window_days,
            items=items if enough else [],
            generator=self.name,
            model=self.model,
            prompt_version=self.prompt_version(context.persona),
            context_hash=context_hash(context),
            error=None if enough else f"not enough data for {MIN_ITEMS} template items (found {len(items)})",
        )

    def generate_many(self, contexts: Sequence[UserContext]) -> list[GenerationResult]:
        return [self.generate(context) for context in contexts]
