"""One normalisation for every text check (docs/guardrails.md, "Normalisation").

`normalise` turns the many ways of writing the same words into one: Unicode NFKC (fullwidth and
mathematical letters become plain ones), format characters removed (zero-width spaces and joiners,
soft hyphens, bidi controls), accents and other combining marks removed, every decimal digit made
ASCII, look-alike letters from other scripts (Cyrillic "а", Greek "ο", Cherokee "Ꭺ", …) folded to
the Latin letter they imitate, case folded, whitespace collapsed, and words spelled out letter by
letter ("w a s t e f u l") joined again. Phrase, PII and advice checks all run on its output; the
original text is kept for display.

The look-alike table is Unicode's confusables list (UTS #39) as shipped by the `confusable-homoglyphs`
package: every non-ASCII character it lists as confusable with an ASCII letter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from typing import Any

# Characters that render as nothing but are letters, not format characters (Hangul fillers).
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_LATIN_LETTER_NAME = re.compile(
    r"LATIN (?:LETTER SMALL CAPITAL|SMALL LETTER|CAPITAL LETTER) ([A-Z])(?: WITH .*)?$"
)
_REMOVED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
# A word spelled out with one separator between letters: "w a s t e f u l", "w.a.s.t.e.f.u.l".
_LETTER_SPACED = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][ .\-_*·](?=[^\W\d_])){2,}[^\W\d_](?![^\W\d_])")
_SPACED_SEPARATORS = re.compile(r"[ .\-_*·]")
_SPELLED_HINT = re.compile(r"[ .\-_*·][^\W\d_][ .\-_*·][^\W\d_][ .\-_*·]")
_ASCII_FOLD = {**{code: " " for code in (*range(32), 127)}, ord("`"): "'"}
# Inside a word, these may be sprinkled between letters to dodge a phrase list ("was-te.ful").
INTRA_WORD = r"[\-.'_*·]?"
_SQUEEZE = str.maketrans("1|!i0@4$537", "lllloaasset", " -.'_*·")
# Characters that pass for a letter in a phrase ("l" for "I", "0" for "o"): `word_pattern` accepts them.
_LOOKALIKES = {
    "l": "[l1i|!]",
    "i": "[il1|!]",
    "o": "[o0]",
    "a": "[a4@]",
    "e": "[e3]",
    "s": "[s5$]",
    "t": "[t7]",
}
_LEET = str.maketrans("4310@$57", "aeioasst")
# A word with a letter next to a digit, "@" or "$" (a plain number or amount is not a leet word).
_LEET_TOKEN = re.compile(r"[a-z0-9@$]*(?:[a-z][0-9@$]|[0-9@$][a-z])[a-z0-9@$]*")
_LEET_CHARS = frozenset("4310@$57")
_LEET_HINT = re.compile(r"[a-z][0-9@$]|[0-9@$][a-z]")
# A word of normalised text for list look-ups ("brk.b", "coca-cola", "at&t" stay one word).
WORD = re.compile(r"[a-z0-9]+(?:[&.\-][a-z0-9]+)*")


@cache
def _confusable_letters() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter (or apostrophe, hyphen) it imitates, from Unicode's
    confusables list; curly double quotes and the em dash are added by hand (the list maps them to
    two characters or to a Japanese mark)."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    letters = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = sorted(
            {h["c"] for h in homoglyphs if len(h["c"]) == 1 and (h["c"].isalpha() or h["c"] in "'-")}
        )
        targets = [target for target in targets if target.isascii()]
        if targets:
            letters[char] = targets[0]
    return {**letters, "\u201c": '"', "\u201d": '"', "\u2014": "-"}


def _fold_letter(char: str) -> str | None:
    """The lower-case ASCII character a non-ASCII one imitates, trying its other case too ("к" via "К");
    a decorated or small-capital Latin letter the list leaves out reads as its base letter ("ᴀ", "ꜰ")."""
    letters = _confusable_letters()
    for candidate in (char.lower(), char, char.upper()):
        if candidate in letters:
            return letters[candidate].lower()
    match = _LATIN_LETTER_NAME.match(unicodedata.name(char, ""))
    return match.group(1).lower() if match else None


class _FoldTable(dict):
    """A str.translate table filled on first sight of each character (Unicode is too big to precompute)."""

    def __init__(self, keep_case: bool):
        super().__init__()
        self.keep_case = keep_case

    def __missing__(self, code_point: int) -> str | None:
        char = chr(code_point)
        category = unicodedata.category(char)
        if category in _REMOVED_CATEGORIES or char in _INVISIBLE_LETTERS:
            folded = None
        elif category == "Cc" or category.startswith("Z"):
            folded = " "
        elif category == "Nd":
            folded = str(unicodedata.digit(char))
        elif char.isascii():
            folded = "'" if char == "`" else char
        else:
            letter = _fold_letter(char)
            folded = (
                char if letter is None else letter.upper() if self.keep_case and char.isupper() else letter
            )
        self[code_point] = folded
        return folded


_FOLD = _FoldTable(keep_case=False)
_FOLD_KEEP_CASE = _FoldTable(keep_case=True)


def normalise(text: str | None, *, casefold: bool = True) -> str:
    """The comparison form of a text: see the module docstring. Idempotent.

    `casefold=False` keeps upper case (for the one check where it is the signal: unlisted tickers).
    """
    if not text:
        return ""
    if text.isascii():
        folded = (text.lower() if casefold else text).translate(_ASCII_FOLD)
    else:
        composed = unicodedata.normalize("NFKC", text)
        decomposed = unicodedata.normalize("NFKD", composed.casefold() if casefold else composed)
        folded = unicodedata.normalize("NFKC", decomposed.translate(_FOLD if casefold else _FOLD_KEEP_CASE))
        folded = folded.lower() if casefold else folded
    folded = " ".join(folded.split())
    if not _SPELLED_HINT.search(folded):  # a cheap scan first: spelled-out words are rare
        return folded
    return _LETTER_SPACED.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), folded)


def deleet(normalised: str) -> str:
    """Digits and symbols standing in for letters inside a word ("w4$teful" -> "wasteful").

    Only for phrase lists: numbers, amounts and tickers are read from `normalise` output itself.
    """
    if _LEET_CHARS.isdisjoint(normalised) or not _LEET_HINT.search(normalised):
        return normalised
    return _LEET_TOKEN.sub(lambda m: m.group(0).translate(_LEET), normalised)


class TextForms:
    """One text as the checks read it: normalised, and on demand with case kept, de-leeted, as words."""

    def __init__(self, text: str, normalised: str | None = None):
        self.text = text
        self.normalised = normalise(text) if normalised is None else normalised
        self._memo: dict[str, Any] = {}

    @classmethod
    def joined(cls, parts: Sequence[TextForms]) -> TextForms:
        """Several texts (title, content, rationale) read as one."""
        return cls("\n".join(part.text for part in parts), " ".join(part.normalised for part in parts))

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value several checks derive from this text, computed once."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def case_kept(self) -> str:
        return self.memo("case_kept", lambda: normalise(self.text, casefold=False))

    @property
    def deleeted(self) -> str:
        return self.memo("deleeted", lambda: deleet(self.normalised))

    @property
    def words(self) -> list[str]:
        return self.memo("words", lambda: WORD.findall(self.normalised))

    @property
    def word_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each of `words` in `normalised`."""
        return self.memo("word_spans", lambda: [m.span() for m in WORD.finditer(self.normalised)])


def word_pattern(word: str) -> str:
    """A regex for one normalised word that tolerates intra-word punctuation between its letters and
    the digits and symbols that pass for letters ("wastefuI", "w4$teful")."""
    return INTRA_WORD.join(_LOOKALIKES.get(char, re.escape(char)) for char in word.replace("'", ""))


def phrase_regex(phrase: str) -> str:
    """A normalised phrase: its words in order, any spacing between them, punctuation inside them."""
    return r"\s*".join(word_pattern(word) for word in normalise(phrase).split())


def phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """Whole words only, a hyphen counting as part of a word: "non-wasteful" is not "wasteful"."""
    alternatives = "|".join(phrase_regex(phrase) for phrase in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def squeeze(text: str) -> str:
    """The text without spaces and intra-word punctuation, look-alike digits and symbols read as letters
    ("1" and "i" as "l"): a cheap pre-check before phrase regexes, applied to both sides."""
    return text.translate(_SQUEEZE)
