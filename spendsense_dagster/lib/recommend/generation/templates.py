"""Education templates as data: one markdown file per persona under prompts/templates/.

A file lists its persona's templates, most relevant first. Each template is a `## Title` heading,
`- key: value` lines (priority, tags, rationale, optional `applies when`), a blank line and the
markdown content (docs/recommendations.md). A file's version is a hash of its own bytes, so editing
one persona's texts changes only that persona's version.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from spendsense_dagster.lib.core.personas import FALLBACK_PERSONA, PERSONAS
from spendsense_dagster.lib.core.settings import PROMPTS_DIR
from spendsense_dagster.lib.recommend.formats import as_number

TEMPLATES_DIR = PROMPTS_DIR / "templates"
PRIORITIES = ("high", "medium", "low")
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_CONDITION = re.compile(
    r"(?P<feature>\w+)\s+(?:is\s+(?P<flag>true|false)|(?P<op>>=|<=|>|<)\s*(?P<bound>-?[\d.]+))"
)
_META_LINE = re.compile(r"-\s*(?P<key>[a-z ]+):\s*(?P<value>.*)")


class TemplateFileError(ValueError):
    """A template file that does not follow the format: names the file and the line."""


@dataclass(frozen=True)
class Condition:
    """`<feature> is true|false` or `<feature> <op> <number>`; a null feature never satisfies it."""

    feature: str
    flag: bool | None = None
    op: str | None = None
    bound: float | None = None

    def holds(self, features: Mapping[str, Any]) -> bool:
        value = features.get(self.feature)
        if self.flag is not None:
            return value is self.flag
        number = as_number(value)
        return number is not None and _COMPARISONS[self.op](number, self.bound)


@dataclass(frozen=True)
class EducationTemplate:
    title: str
    content: str
    rationale: str  # a "Because ..." sentence naming at least one feature placeholder
    priority: Literal["high", "medium", "low"]
    tags: tuple[str, ...]
    applies_when: Condition | None = None

    def applies(self, features: Mapping[str, Any]) -> bool:
        return self.applies_when is None or self.applies_when.holds(features)


@dataclass(frozen=True)
class TemplateFile:
    persona: str
    templates: tuple[EducationTemplate, ...]
    digest: str  # sha256 of the file's bytes


def _condition(text: str, where: str) -> Condition:
    match = _CONDITION.fullmatch(text.strip())
    if match is None:
        raise TemplateFileError(f"{where}: cannot read the condition {text!r}")
    if match["flag"]:
        return Condition(match["feature"], flag=match["flag"] == "true")
    return Condition(match["feature"], op=match["op"], bound=float(match["bound"]))


def _template(title: str, lines: list[tuple[int, str]], path: Path) -> EducationTemplate:
    while lines and not lines[0][1].strip():
        lines = lines[1:]
    meta: dict[str, str] = {}
    body_start = len(lines)
    for index, (number, line) in enumerate(lines):
        if not line.strip():
            body_start = index + 1
            break
        match = _META_LINE.fullmatch(line.strip())
        if match is None:
            raise TemplateFileError(f"{path}:{number}: expected '- key: value' before the blank line")
        meta[match["key"].strip()] = match["value"].strip()
    where = f"{path}:{lines[0][0] if lines else '?'} ({title})"
    missing = {"priority", "tags", "rationale"} - meta.keys()
    if missing:
        raise TemplateFileError(f"{where}: missing {sorted(missing)}")
    if meta["priority"] not in PRIORITIES:
        raise TemplateFileError(f"{where}: priority must be one of {PRIORITIES}")
    content = "\n".join(line for _, line in lines[body_start:]).strip()
    if not content:
        raise TemplateFileError(f"{where}: no content")
    condition = meta.get("applies when")
    return EducationTemplate(
        title=title,
        content=content,
        rationale=meta["rationale"],
        priority=meta["priority"],
        tags=tuple(tag.strip() for tag in meta["tags"].split(",") if tag.strip()),
        applies_when=_condition(condition, where) if condition else None,
    )


def parse_template_file(path: Path, persona: str) -> TemplateFile:
    raw = path.read_bytes()
    text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), raw.decode("utf-8"), flags=re.S)
    sections: list[tuple[str, list[tuple[int, str]]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append((number, line))
        elif line.strip() and not line.startswith("# "):
            raise TemplateFileError(f"{path}:{number}: text before the first '## ' template")
    templates = tuple(_template(title, lines, path) for title, lines in sections)
    if not templates:
        raise TemplateFileError(f"{path}: no templates")
    return TemplateFile(persona=persona, templates=templates, digest=hashlib.sha256(raw).hexdigest())


def load_template_files(templates_dir: Path = TEMPLATES_DIR) -> dict[str, TemplateFile]:
    """Every persona's template file; a missing file is an error naming the persona."""
    missing = [persona for persona in PERSONAS if not (templates_dir / f"{persona}.md").is_file()]
    if missing:
        raise TemplateFileError(f"{templates_dir}: no template file for {missing}")
    return {persona: parse_template_file(templates_dir / f"{persona}.md", persona) for persona in PERSONAS}


def templates_version(files: Mapping[str, TemplateFile], persona: str) -> str:
    """The version of what a persona's items can come from: its own file and the fallback's."""
    sources = dict.fromkeys((persona, FALLBACK_PERSONA))
    digest = hashlib.sha256("\0".join(files[name].digest for name in sources).encode()).hexdigest()
    return f"template-{digest[:12]}"
