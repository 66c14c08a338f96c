"""PII leaks (docs/guardrails.md): every finding is critical and none repeats the leaked value.

Checked on `normalise` output, so case, look-alike letters, zero-width characters and letter spacing
do not hide anything:

- the user's name: first and last name in either order ("Ada Lovelace", "Lovelace, Ada"), with or
  without middle names or initials between them, or a greeting / title with the first or last name
  ("Dear Ada", "Ms. Lovelace")
- the user's email, plain or obfuscated ("ada dot lovelace at example dot com", "[at]", spaces)
- phone numbers, SSN-shaped numbers (valid area/group/serial), card numbers (13-19 digits, spaces or
  dashes allowed, Luhn-valid)
- account numbers: the account id itself, or any run of 4+ digits (single spaces or dashes allowed
  inside) that repeats digits of one of the user's account ids other than its last four, the mask a
  bank statement prints
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from spendsense_dagster.lib.recommend.guardrails.text import normalise, squeeze, word_pattern

MASK_DIGITS = 4
_NAME_AFFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "jr", "sr", "ii", "iii", "iv", "phd", "md"})
_NAME_SEP = r"[\s,.]*"
_GREETINGS = (
    r"hi|hello|hey|dear|greetings|congrats|congratulations|thanks|thank you|welcome|good morning|"
    r"good afternoon|good evening|well done|great job"
)
_TITLES = r"mr|mrs|ms|miss|mx|dr|sir|madam"
# Separators people use to disguise an email address.
_DOT = r"(?:\s*(?:[._+\-]|[(\[{<]\s*dot\s*[)\]}>]|\bdot\b|\bperiod\b)\s*|\s+|)"
_AT = r"\s*(?:@|[(\[{<]\s*(?:at|@)\s*[)\]}>]|\bat\b|\bat sign\b)\s*"
_NOT_BEFORE_NUMBER = r"(?<![\w$.,/+\-])"
_NOT_AFTER_NUMBER = r"(?![\w%]|[.,]\d)"
_PHONE = re.compile(
    rf"{_NOT_BEFORE_NUMBER}(?:\+?1[\s.\-]?)?(?:\(\d{{3}}\)|\d{{3}})[\s.\-]?\d{{3}}[\s.\-]?\d{{4}}{_NOT_AFTER_NUMBER}"
    rf"|(?<![\w+])\+\d{{1,3}}(?:[\s.\-]?\d{{1,4}}){{2,5}}{_NOT_AFTER_NUMBER}"
    r"|\b(?:call|phone|text|tel|cell|mobile|number|fax|reach (?:me|us|them) at)\b"
    rf"\W{{0,3}}\d{{3}}[\s.\-]\d{{4}}{_NOT_AFTER_NUMBER}"
)
_SSN = re.compile(rf"{_NOT_BEFORE_NUMBER}(\d{{3}})([\s\-]?)(\d{{2}})\2(\d{{4}}){_NOT_AFTER_NUMBER}")
_CARD = re.compile(rf"{_NOT_BEFORE_NUMBER}\d(?:[\s\-]?\d){{12,18}}{_NOT_AFTER_NUMBER}")
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[\s\-]?\d)*(?!\d)")
# An ISO date is not an account number: read as one digit run, "2025-07-03" holds "0250", a stretch
# of account acc_025008 (seen at 10,000 generated users, where it blocked a renewal reminder).
_ISO_DATE = re.compile(r"(?<!\d)(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)")
_FOUR_DIGITS = re.compile(r"\d[\s\-]?\d[\s\-]?\d[\s\-]?\d")


@dataclass(frozen=True)
class PII:
    """What must never appear in an item: the user's name, email and full account ids."""

    full_name: str | None = None
    email: str | None = None
    account_ids: tuple[str, ...] = ()


def _name_parts(full_name: str) -> list[str]:
    words = [word.strip(".,") for word in normalise(full_name).split()]
    return [word for word in words if word and word not in _NAME_AFFIXES]


def _bounded(pattern: str) -> str:
    return rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])"


def _name_pattern(full_name: str | None) -> re.Pattern[str] | None:
    parts = _name_parts(full_name or "")
    if not parts:
        return None
    first, last = word_pattern(parts[0]), word_pattern(parts[-1])
    if len(parts) == 1:
        return re.compile(_bounded(first))
    middle = "|".join([*(word_pattern(part) for part in parts[1:-1]), r"[a-z]\.?"])
    middles = rf"(?:{_NAME_SEP}(?:{middle}))*"
    return re.compile(
        "|".join(
            (
                _bounded(rf"{first}{middles}{_NAME_SEP}{last}"),
                _bounded(rf"{last}{_NAME_SEP}{first}{middles}"),
                _bounded(rf"(?:{_GREETINGS})[\s,!.:\-]+(?:{first}|{last})"),
                _bounded(rf"(?:{_TITLES})\.?\s+(?:{first}{middles}{_NAME_SEP})?{last}"),
            )
        )
    )


def _email_pattern(email: str | None) -> re.Pattern[str] | None:
    local, at, domain = normalise(email).partition("@")
    local_parts = [part for part in re.split(r"[^a-z0-9]+", local) if part]
    domain_parts = [part for part in re.split(r"[^a-z0-9]+", domain) if part]
    if not (at and local_parts and domain_parts):
        return None
    joined = (_DOT.join(word_pattern(part) for part in parts) for parts in (local_parts, domain_parts))
    return re.compile(_bounded(_AT.join(joined)))


def _account_pattern(account_id: str) -> re.Pattern[str] | None:
    chars = [char for char in normalise(account_id) if char.isalnum()]
    if len(chars) <= MASK_DIGITS:
        return None
    return re.compile(_bounded(r"[\s._\-]*".join(re.escape(char) for char in chars)))


def _unmasked_windows(account_id: str) -> frozenset[str]:
    """Every 4-digit stretch of the id's digits except the last four (the permitted mask)."""
    digits = re.sub(r"\D", "", account_id)
    return frozenset(digits[i : i + MASK_DIGITS] for i in range(len(digits) - MASK_DIGITS))


@dataclass(frozen=True)
class _UserPatterns:
    name: re.Pattern[str] | None
    email: re.Pattern[str] | None
    accounts: tuple[re.Pattern[str], ...]
    account_windows: frozenset[str]


@lru_cache(maxsize=4096)  # one entry per user: bounded for large runs
def _user_patterns(pii: PII) -> _UserPatterns:
    return _UserPatterns(
        name=_name_pattern(pii.full_name),
        email=_email_pattern(pii.email),
        accounts=tuple(p for p in map(_account_pattern, pii.account_ids) if p is not None),
        account_windows=_account_windows(pii.account_ids),
    )


@lru_cache(maxsize=4096)  # one entry per user: bounded for large runs
def _account_windows(account_ids: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*map(_unmasked_windows, account_ids))


_NO_PATTERNS = _UserPatterns(name=None, email=None, accounts=(), account_windows=frozenset())


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _is_ssn(match: re.Match[str]) -> bool:
    area, group, serial = int(match.group(1)), int(match.group(3)), int(match.group(4))
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _shows_account_digits(normalised: str, windows: frozenset[str]) -> bool:
    if not windows:
        return False
    for match in _DIGIT_RUN.finditer(_ISO_DATE.sub(" ", normalised)):
        run = _digits(match.group(0))
        if any(run[i : i + MASK_DIGITS] in windows for i in range(len(run) - MASK_DIGITS + 1)):
            return True
    return False


@lru_cache(maxsize=4096)  # one entry per user: bounded for large runs
def _name_keys(pii: PII) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Squeezed first/last name and email words: when none is in the text, no regex needs to run."""
    parts = _name_parts(pii.full_name or "")
    name_keys = tuple(squeeze(part) for part in (parts[:1] + parts[-1:]) if part)
    email_keys = tuple(part for part in re.split(r"[^a-z0-9]+", normalise(pii.email)) if part)[:1]
    return name_keys, email_keys


def _number_messages(normalised: str) -> list[str]:
    """Phone, SSN and card numbers of anyone (a cheap check first: most texts hold no 4-digit run)."""
    messages = []
    if not _FOUR_DIGITS.search(normalised):
        return messages
    if _PHONE.search(normalised):
        messages.append("a phone number appears in the text")
    if any(_is_ssn(match) for match in _SSN.finditer(normalised)):
        messages.append("a social security number pattern appears in the text")
    if any(luhn_valid(_digits(match.group(0))) for match in _CARD.finditer(normalised)):
        messages.append("a card number (Luhn-valid) appears in the text")
    return messages


def pii_messages(normalised: str, pii: PII) -> list[str]:
    """Why the text leaks personal data; never the value itself (findings are stored and exported).

    The user's own patterns are compiled only when a word of the name, email or an account id is in
    the text: most texts hold none, and compiling per user would dominate a large run."""
    squeezed = squeeze(normalised)
    name_keys, email_keys = _name_keys(pii)
    user = _user_patterns(pii) if any(key in squeezed for key in (*name_keys, *email_keys)) else _NO_PATTERNS
    messages = []
    if user.name and user.name.search(normalised):
        messages.append("the user's name appears in the text")
    if user.email and user.email.search(normalised):
        messages.append("the user's email address appears in the text (plain or disguised)")
    messages.extend(_number_messages(normalised))
    account_ids_shown = any(squeeze(normalise(account_id)) in squeezed for account_id in pii.account_ids)
    if (
        account_ids_shown and any(pattern.search(normalised) for pattern in _user_patterns(pii).accounts)
    ) or (_shows_account_digits(normalised, _account_windows(pii.account_ids))):
        messages.append("the user's account number appears beyond its last four digits")
    return messages
