"""Markup (docs/guardrails.md): item text is markdown, so anything a renderer could turn into HTML or a
live link is critical, and text from the input feed is made plain before it reaches a prompt or a
template.

`markup_problems` reads the raw text and its HTML-unescaped and percent-decoded forms
(`&lt;script&gt;`, `%3Cscript%3E` and `java&#x09;script:` count too): an HTML tag, comment or
declaration; an event-handler attribute (`onerror=`); a `javascript:`, `vbscript:` or `data:` URL; a
markdown link, image or reference whose target is not `https://`; an autolink or bare URL that is
not https.

`plain_text` is the feed sanitiser: entities decoded, tags and angle brackets removed, markdown link
brackets and backticks removed, script-like URL schemes defused, control and format characters
dropped, whitespace collapsed. `inert_text` is what a blocked item's text is stored as: HTML-escaped,
with link brackets and URL schemes escaped too, so no renderer can act on it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import unquote

_TAG = re.compile(r"<\s*/?\s*([a-z][a-z0-9\-]*)(?=[\s/>]|$)|<\s*(!--|!\[cdata\[|!doctype|\?)", re.I)
_EVENT_HANDLER = re.compile(r"(?<![\w-])on[a-z]{3,}\s*=", re.I)
_SCRIPT_SCHEME = re.compile(r"(?:java|vb|live)script:|mocha:", re.I)
_DATA_URL = re.compile(
    r"(?:\]\(\s*<?|(?:href|src|action|formaction|poster|background|srcset)\s*=\s*[\"']?)\s*data:"
    r"|\bdata:(?:text|image|application|audio|video)/",
    re.I,
)
_MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)>\s]*)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S*?)>?(?:\s|$)", re.M)
_AUTOLINK = re.compile(r"<([a-z][a-z0-9+.\-]*:[^>\s]*)>", re.I)
_BARE_URL = re.compile(r"(?<![\w/])(?:(?:https?|ftp|file|wss?)://|www\.)[^\s)>\]]*", re.I)
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f]+")
_SAFE_SCHEME = "https://"
UNNAMED_MERCHANT = "unnamed merchant"  # what a merchant name made only of markup reads as

_FEED_TAG = re.compile(r"<[^<>]*>")
_FEED_SCHEME = re.compile(r"\b((?:java|vb|live)script|data|mocha)\s*:", re.I)
_FEED_HANDLER = re.compile(r"(?<![\w-])(on[a-z]{3,})\s*=", re.I)
_FEED_REMOVED = str.maketrans("", "", "<>[]`")
_INERT_SCHEME = re.compile(r"\b([a-z][a-z0-9+.\-]*):(?=//)|\b((?:java|vb|live)script|data|mocha):", re.I)


def _unescaped_forms(text: str) -> list[str]:
    """The text as written and as a renderer or a link may decode it: entities (twice, `&amp;lt;` too)
    and percent-escapes (`%3Cscript%3E`)."""
    once = html.unescape(text) if "&" in text else text
    forms = [text, once, html.unescape(once) if "&" in once else once]
    if "%" in text:
        forms.extend(unquote(form) for form in list(forms))
    return list(dict.fromkeys(forms))


def _without_format_chars(text: str) -> str:
    """NFKC, with zero-width and other format characters removed: `java\u200bscript:` is still a scheme."""
    composed = unicodedata.normalize("NFKC", text)
    return "".join(char for char in composed if unicodedata.category(char) != "Cf")


def _is_safe_target(target: str) -> bool:
    return _INVISIBLE.sub("", target).lower().startswith(_SAFE_SCHEME)


def markup_problems(text: str) -> list[str]:
    """What in the text a markdown or HTML renderer could act on; descriptions never quote the markup.
    Each regex runs only when the character it needs is in the text."""
    problems: dict[str, None] = {}
    for form in _unescaped_forms(text):
        visible = _without_format_chars(form) if not form.isascii() else form
        lowered = visible.lower()
        if "<" in visible:
            for match in _TAG.finditer(visible):
                name = (match.group(1) or match.group(2) or "").lower()
                problems[f"an HTML {name!r} tag" if match.group(1) else "an HTML comment or declaration"] = (
                    None
                )
            if any(not _is_safe_target(m.group(1)) for m in _AUTOLINK.finditer(visible)):
                problems["an autolink to a non-https URL"] = None
        if "=" in visible and _EVENT_HANDLER.search(visible):
            problems["an event-handler attribute (on...=)"] = None
        if ":" in visible:
            squeezed = _INVISIBLE.sub("", visible)
            if _SCRIPT_SCHEME.search(squeezed):
                problems["a script URL (javascript or vbscript scheme)"] = None
            if "data" in lowered and (_DATA_URL.search(visible) or _DATA_URL.search(squeezed)):
                problems["a data URL"] = None
        if "]" in visible:
            targets = [
                m.group(1) for pattern in (_MARKDOWN_LINK, _REFERENCE) for m in pattern.finditer(visible)
            ]
            if any(not _is_safe_target(target) for target in targets):
                problems["a markdown link or image to a non-https target"] = None
        if ("://" in visible or "www." in lowered) and any(
            not m.group(0).lower().startswith(_SAFE_SCHEME) for m in _BARE_URL.finditer(visible)
        ):
            problems["a bare URL that is not https"] = None
    return list(problems)


def plain_text(text: str | None) -> str:
    """Feed text (a merchant name, a category) made safe to quote in a prompt or in markdown."""
    if not text:
        return ""
    decoded = html.unescape(html.unescape(text))
    composed = unicodedata.normalize("NFKC", decoded)
    visible = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in composed
        if unicodedata.category(char) != "Cf"
    )
    previous = None
    while previous != visible:  # nested or split tags: "<scr<b>ipt>"
        previous, visible = visible, _FEED_TAG.sub(" ", visible)
    visible = visible.translate(_FEED_REMOVED)
    visible = _FEED_SCHEME.sub(lambda m: m.group(1), visible)
    visible = _FEED_HANDLER.sub(lambda m: m.group(1), visible)
    return " ".join(visible.split())


def inert_text(text: str) -> str:
    """A blocked item's text as stored: HTML-escaped, link brackets and URL schemes escaped too."""
    escaped = html.escape(text, quote=True).replace("[", "&#91;").replace("]", "&#93;")
    return _INERT_SCHEME.sub(lambda m: f"{m.group(1) or m.group(2)}&#58;", escaped)
