"""Tone (docs/guardrails.md): shaming or judging language is critical; no empowering phrase is notable.

Both lists are matched on `normalise` output (and its de-leeted form for shaming), whole words only,
so look-alike letters, zero-width characters, letter spacing and "w4steful" spellings are caught.
"""

from __future__ import annotations

from spendsense_dagster.lib.recommend.guardrails.text import TextForms, normalise, phrase_pattern, squeeze

# Shaming or judging language: critical. Word families are listed in full (whole-word matching).
SHAMING_PHRASES = (
    "you're overspending",
    "you are overspending",
    "you keep overspending",
    "you've been overspending",
    "you have been overspending",
    "you overspend",
    "you overspent",
    "overspender",
    "bad habit",
    "bad habits",
    "irresponsible",
    "irresponsibly",
    "irresponsibility",
    "wasteful",
    "wastefully",
    "wastefulness",
    "wasting your money",
    "waste of money",
    "throwing money away",
    "throwing away money",
    "blowing your money",
    "you need to",
    "you should stop",
    "you must stop",
    "poor financial decision",
    "poor financial decisions",
    "poor decision",
    "poor decisions",
    "poor choices",
    "reckless",
    "recklessly",
    "careless",
    "carelessly",
    "foolish",
    "foolishly",
    "stupid",
    "pathetic",
    "shameful",
    "greedy",
    "undisciplined",
    "immature",
    "clueless",
    "spendthrift",
    "frivolous",
    "bad with money",
    "terrible with money",
    "awful with money",
    "out of control",
    "you can't afford",
    "you cannot afford",
    "you can't manage money",
    "shame on you",
)

# Empowering language: its absence is notable (docs/guardrails.md lists the first six).
EMPOWERING_PHRASES = (
    "you can",
    "let's",
    "consider",
    "explore",
    "many people",
    "opportunity",
    "you could",
    "let us",
    "considering",
    "exploring",
    "opportunities",
)

_SHAMING = phrase_pattern(SHAMING_PHRASES)
_SHAMING_KEYS = tuple(squeeze(normalise(phrase)) for phrase in SHAMING_PHRASES)
_EMPOWERING = phrase_pattern(EMPOWERING_PHRASES)


def shaming_phrases(forms: TextForms) -> list[str]:
    """Distinct shaming phrases in the normalised or de-leeted text (regex only where a key is present)."""
    found = set()
    for text in dict.fromkeys((forms.normalised, forms.deleeted)):
        squeezed = squeeze(text)
        if any(key in squeezed for key in _SHAMING_KEYS):
            found.update(match.group(0) for match in _SHAMING.finditer(text))
    return sorted(found)


def has_empowering_phrase(normalised: str) -> bool:
    return _EMPOWERING.search(normalised) is not None
