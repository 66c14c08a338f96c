"""Regulated advice (docs/guardrails.md): named securities, return promises, investment, tax and legal
directives. Every rule runs on `normalise` output and carries the examples it must and must not match
(tests run them, the docs list them).

Securities come from data/guardrails/us_listings.csv (where it comes from: its script,
scripts/update_us_listings.py). A symbol that is not an ordinary word ("tsla", "nvda") counts on its own,
in any case. A symbol that is a word, a finance term or a merchant's name ("all", "cost", "uber") counts
only in upper case and with context: a `$`, an exchange prefix, an investing verb aimed at it ("buy
ALL") or a security noun ("T shares"); so does an upper-case symbol nobody listed ("buy RIVN"). Company
names count only with context too ("Apple", "Target", "Amazon" are merchants): an investing verb aimed
at them ("invest in Apple"), a security noun ("Apple stock", "shares of Target") or being called a buy.

Names and symbols are found by looking the text's words up in the list (fast at any list size);
regular expressions only check the few words around a hit, and phrase rules run only when one of their
trigger words is in the text.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from spendsense_dagster.lib.core.settings import PROJECT_ROOT
from spendsense_dagster.lib.recommend.guardrails.text import WORD, TextForms, normalise

US_LISTINGS_PATH = PROJECT_ROOT / "data" / "guardrails" / "us_listings.csv"

EXCHANGES = (
    "nyse", "nyse arca", "nysearca", "nyse american", "nasdaq", "nasdaqgs", "nasdaqgm", "amex", "otc",
    "otcmkts", "otc markets", "cboe", "bats", "tsx", "lse",
)  # fmt: skip

# Upper-case finance vocabulary, never a security on its own (even after "buy") unless it is listed.
FINANCE_ACRONYMS = frozenset(
    "APR APY FDIC NCUA IRA IRAS HSA FSA ETF ETFS CD CDS ATM ACH PIN USD US IRS SSN CPA CFP EMI LLC "
    "ROTH SEP TIPS REIT REITS ESG AI OK FAQ MTD YTD PSA ID".split()
)

VERBS = (
    r"buy|buys|buying|bought|purchase|purchases|purchasing|purchased|sell|sells|selling|sold|"
    r"short|shorts|shorting|shorted|invest|invests|investing|invested|dump|dumps|dumping|grab|grabbing|"
    r"accumulate|accumulating|hold|holding|load up on|loading up on|pick up|picking up|scoop up|"
    r"scooping up|snap up|get into|getting into|get in on|go long on|going long on|bet on|betting on|"
    r"trade|trading|ape into|yolo into|"
    r"(?:put|park|pour|move) (?:your |some |more |all your |all of your )?(?:money|cash|savings) in(?:to)?"
)
# Words allowed between the verb and the security: "buy more shares of", "invest in a little".
_FILLER = (
    r"(?:\s+(?:in|into|on|of|more|some|a few|a little|a bit of|a stake in|a position in|shares?|stock|"
    r"stocks|stakes? in|positions? in|the|a|an|your|their|big|heavily|now))*"
)
# What may follow a security for the phrase to be about the security, not a product ("buy Apple now",
# "buy Apple." but not "buy Apple gift cards").
_AFTER_SECURITY = (
    r"(?![\w&])(?=\s*(?:$|[.,;:!?)\]\"\u2014\u2013-]|\$|\d)|'s\s+(?:stock|stocks|shares)\b"
    r"|\s+(?:stock|stocks|shares|share|equity|options|calls|puts|now|today|tomorrow|right|soon|asap|"
    r"immediately|before|while|when|if|and|or|but|for|at|in|on|because|since|as|so|to|with|instead|this|"
    r"next|too|also|again|here|there|already|until|like|over|under|above|below|around)\b)"
)
_SECURITY_NOUNS = (
    r"stock|stocks|shares|share price|stock price|equity|options|calls|puts|ipo|ticker|dividends?|"
    r"earnings|market cap|warrants"
)
_NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|none|cannot|can't|isn't|aren't|doesn't|don't|won't|without|nor|neither)\b"
    r"[^.!?;]{0,40}$"
)
_CONTEXT_CHARS = 80  # how far back a verb or "shares of" may start
_WORD_START = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Security:
    symbol: str  # upper case, as listed ("BRK.B")
    name: str
    aliases: tuple[str, ...]  # normalised short names ("apple", "berkshire")
    kind: str  # stock, etf, fund or crypto
    symbol_needs_context: bool


@cache
def securities() -> tuple[Security, ...]:
    with US_LISTINGS_PATH.open(encoding="utf-8") as handle:
        return tuple(
            Security(
                symbol=row["symbol"],
                name=row["name"],
                aliases=tuple(normalise(alias) for alias in row["aliases"].split(";") if alias.strip()),
                kind=row["kind"],
                symbol_needs_context=row["symbol_needs_context"] == "true",
            )
            for row in csv.DictReader(handle)
        )


@dataclass(frozen=True)
class AdviceRule:
    """One rule: the kind of advice, a label, how it finds matches, and its documented examples."""

    kind: str  # security, return_promise, investment_directive, tax_directive, legal_directive
    label: str
    find: Callable[[TextForms], list[str]]
    must_match: tuple[str, ...]
    must_not_match: tuple[str, ...]


def _alternation(words: Sequence[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


def _negated(text: str, start: int) -> bool:
    return _NEGATION.search(text[max(0, start - 60) : start]) is not None


def _regex_rule(
    kind: str,
    label: str,
    triggers: Sequence[str],
    regex: re.Pattern[str],
    must_match: tuple[str, ...],
    must_not_match: tuple[str, ...],
    *,
    anchors: tuple[str, ...] = (),
    negatable: bool = False,
    on_deleeted: bool = True,
    case_kept: bool = False,
) -> AdviceRule:
    """A rule that is one regex. It runs only when a trigger string is in the (lower-case) text;
    with `anchors` (the words a match can start with; "word*" for a prefix) it is tried only there,
    which is far cheaper than scanning. `negatable`: a "not"/"no"/"never" shortly before cancels a
    match; `on_deleeted`: also on the de-leeted form; `case_kept`: on the case-kept form (the regex's
    group 1, if any, is the finding)."""

    exact = frozenset(anchor for anchor in anchors if not anchor.endswith("*"))
    prefixes = tuple(anchor[:-1] for anchor in anchors if anchor.endswith("*"))

    def matches(text: TextForms, name: str, form: str) -> list[re.Match[str]]:
        if not anchors:
            return list(regex.finditer(form))
        starts = text.memo(
            f"starts:{name}", lambda: [(m.group(0).lower(), m.start()) for m in _WORD_START.finditer(form)]
        )
        found = (
            regex.match(form, start) for word, start in starts if word in exact or word.startswith(prefixes)
        )
        return [match for match in found if match is not None]

    def find(text: TextForms) -> list[str]:
        forms = {"case_kept": text.case_kept} if case_kept else {"normalised": text.normalised}
        if on_deleeted and text.deleeted != text.normalised:
            forms["deleeted"] = text.deleeted
        found = []
        for name, form in forms.items():
            lowered = form.lower() if case_kept else form
            if not any(trigger in lowered for trigger in triggers):
                continue
            for match in matches(text, name, form):
                phrase = match.group(match.lastindex or 0)
                if negatable and _negated(form, match.start()):
                    continue
                if case_kept and match.lastindex and phrase in FINANCE_ACRONYMS and phrase not in _listed():
                    continue
                found.append(phrase.strip())
        return found

    return AdviceRule(kind, label, find, must_match, must_not_match)


@dataclass(frozen=True)
class _Lexicon:
    plain_symbols: frozenset[str]  # symbols that count on their own
    companies: dict[tuple[str, ...], str]  # alias words -> alias
    coins: dict[tuple[str, ...], str]
    sizes: dict[str, tuple[int, ...]]  # first word of an alias -> its alias lengths in words, longest first


@cache
def _listed() -> frozenset[str]:
    return frozenset(security.symbol for security in securities())


def _alias_keys(alias: str) -> list[tuple[str, ...]]:
    keys = [tuple(WORD.findall(alias))]
    if "-" in alias:  # "coca-cola" is also written "coca cola"
        keys.append(tuple(WORD.findall(alias.replace("-", " "))))
    return [key for key in keys if key]


@cache
def _lexicon() -> _Lexicon:
    listed = securities()
    companies = {
        key: alias for s in listed if s.kind != "crypto" for alias in s.aliases for key in _alias_keys(alias)
    }
    coins = {
        key: alias for s in listed if s.kind == "crypto" for alias in s.aliases for key in _alias_keys(alias)
    }
    sizes: dict[str, set[int]] = {}
    for key in [*companies, *coins]:
        sizes.setdefault(key[0], set()).add(len(key))
    return _Lexicon(
        plain_symbols=frozenset(s.symbol.lower() for s in listed if not s.symbol_needs_context),
        companies=companies,
        coins=coins,
        sizes={word: tuple(sorted(lengths, reverse=True)) for word, lengths in sizes.items()},
    )


def _named(text: TextForms, names: dict[tuple[str, ...], str]) -> list[tuple[str, int, int]]:
    """(alias, start, end) of every listed name in the text, the longest at each word."""
    sizes, words = _lexicon().sizes, text.words
    found = []
    for index in (i for i, word in enumerate(words) if word in sizes):
        for size in sizes[words[index]]:
            key = tuple(words[index : index + size])
            if key in names:
                spans = text.word_spans
                found.append((names[key], spans[index][0], spans[index + size - 1][1]))
                break
    return found


_VERB_BEFORE = re.compile(rf"(?<![\w-])(?:{VERBS}){_FILLER}\s+$")
_NOUN_BEFORE = re.compile(
    r"(?<![\w-])(?:shares|stock|stocks|stake|position|options|calls|puts)\s+(?:in|of)\s+$"
)
_AFTER = re.compile(_AFTER_SECURITY)
_NOUN_AFTER = re.compile(rf"(?:'s)?\s+(?:{_SECURITY_NOUNS})(?![\w-])")
_CALLED_A_BUY = re.compile(
    r"\s+(?:is|looks|seems)\s+(?:like\s+)?(?:a|an)?\s*(?:great|good|strong|solid|smart|safe|top|must|sure|"
    r"no-brainer)?\s*(?:buy|pick|bet|investment|long)(?![\w-])"
)


def _company_rule(
    label: str, in_context: Callable[[str, int, int], bool], must_match, must_not_match
) -> AdviceRule:
    def find(text: TextForms) -> list[str]:
        companies = text.memo("companies", lambda: _named(text, _lexicon().companies))
        return [alias for alias, start, end in companies if in_context(text.normalised, start, end)]

    return AdviceRule("security", label, find, must_match, must_not_match)


def _before(pattern: re.Pattern[str], text: str, start: int) -> bool:
    return pattern.search(text[max(0, start - _CONTEXT_CHARS) : start]) is not None


def _symbol_hits(text: TextForms) -> list[tuple[str, int, int]]:
    """(symbol, start, end) of the listed symbols that count on their own."""
    symbols = _lexicon().plain_symbols
    hits = [index for index, word in enumerate(text.words) if word in symbols]
    return [(text.words[index], *text.word_spans[index]) for index in hits]


def _plain_symbols(text: TextForms) -> list[str]:
    """Symbols written as words: not inside an email, a URL path or after a "$" (the cashtag rules)."""
    normalised = text.normalised
    return [
        symbol
        for symbol, start, end in _symbol_hits(text)
        if normalised[start - 1 : start] not in ("$", "@", "/") and normalised[end : end + 1] != "@"
    ]


def _spaced_cashtags(text: TextForms) -> list[str]:
    """ "$ tsla": a listed symbol after a "$" and a space."""
    normalised = text.normalised
    return [
        symbol
        for symbol, start, _ in _symbol_hits(text)
        if normalised[start - 1 : start].isspace() and normalised[:start].rstrip().endswith("$")
    ]


def _coins(text: TextForms) -> list[str]:
    return [alias for alias, _, _ in _named(text, _lexicon().coins)]


_SYMBOL = r"([A-Z]{1,5}(?:\.[A-Z])?)"
_VERB_ANCHORS = (
    "buy", "buys", "buying", "bought", "purchas*", "sell", "sells", "selling", "sold", "short*", "invest*",
    "dump*", "grab*", "accumulat*", "hold", "holding", "load*", "pick*", "scoop*", "snap", "get*", "go",
    "going", "bet*", "trad*", "ape", "yolo", "put", "park", "pour", "move",
)  # fmt: skip
_SECURITY_RULES = [
    _regex_rule(
        "security",
        "cashtag",
        ("$",),
        re.compile(r"(?<![\w$])\$[a-z]{1,5}(?:\.[a-z])?(?![\w])"),
        ("Put spare cash in $AAPL.", "$tsla", "$RIVN is moving"),
        ("A $5 fee", "each $ you save", "US$50 a month"),
        on_deleeted=False,
    ),
    _regex_rule(
        "security",
        "cashtag with a space",
        ("$",),
        re.compile(rf"(?<![\w$])\$\s+{_SYMBOL}(?![\w])"),
        ("$ TSLA", "$ RIVN"),
        ("each $ you save", "$ Amazon"),
        on_deleeted=False,
        case_kept=True,
    ),
    AdviceRule(
        "security",
        "cashtag with a space before a listed symbol",
        _spaced_cashtags,
        ("$ tsla", "$ nvda"),
        ("$ you",),
    ),
    _regex_rule(
        "security",
        "exchange-prefixed symbol",
        EXCHANGES,
        re.compile(rf"(?<![\w])(?:{_alternation(EXCHANGES)})\s*[:\-]\s*[a-z]{{1,5}}(?:\.[a-z])?(?!\w)"),
        ("Shares of NASDAQ: TSLA rose.", "(NYSE:F)", "nasdaq - xyz", "otc: abcd"),
        ("The NYSE opens at 9:30.", "NASDAQ listed companies"),
        on_deleeted=False,
        anchors=(
            "nyse",
            "nysearca",
            "nasdaq",
            "nasdaqgs",
            "nasdaqgm",
            "amex",
            "otc",
            "otcmkts",
            "cboe",
            "bats",
            "tsx",
            "lse",
        ),
    ),
    AdviceRule(
        "security",
        "listed symbol",
        _plain_symbols,
        ("An index like VOO tracks the market.", "tsla", "NVDA is up", "Ａ Ａ Ｐ Ｌ"),
        ("an APR or APY", "FDIC insurance", "your IRA or 401(k)", "spy on prices", "nasdaq.com"),
    ),
    AdviceRule(
        "security",
        "crypto coin",
        _coins,
        ("Bitcoin is one option.", "some ethereum", "dogecoin"),
        ("a coin jar", "crypto is volatile"),
    ),
    _company_rule(
        "investing verb aimed at a company",
        lambda text, start, end: _before(_VERB_BEFORE, text, start) and _AFTER.match(text, end) is not None,
        (
            "Invest in Apple",
            "I recommend buying Nvidia",
            "buy more Tesla now",
            "load up on Uber",
            "put your money into Microsoft.",
            "sell your shares of Target.",
            "Consider buying Amazon before earnings",
        ),
        (
            "buy Amazon gift cards",
            "shop at Target",
            "your Apple Music plan",
            "Uber rides add up",
            "investing for first-time investors",
        ),
    ),  # fmt: skip
    _company_rule(
        "security noun after a company",
        lambda text, start, end: _NOUN_AFTER.match(text, end) is not None,
        ("Tesla stock is popular.", "Apple's shares", "Target stock", "Nvidia options"),
        ("Target store hours", "Netflix plans", "Apple Music"),
    ),
    _company_rule(
        "security noun before a company",
        lambda text, start, end: _before(_NOUN_BEFORE, text, start) and _AFTER.match(text, end) is not None,
        ("shares of Apple", "a stake in Tesla.", "options in Nvidia"),
        ("shares of your budget", "a stake in your future"),
    ),
    _company_rule(
        "company called a buy",
        lambda text, start, end: _CALLED_A_BUY.match(text, end) is not None,
        ("Nvidia is a great buy", "Tesla looks like a strong pick", "Apple is a safe bet"),
        ("Amazon is a big retailer", "Target is a store"),
    ),
    _regex_rule(
        "security",
        "investing verb aimed at a symbol",
        (
            "buy",
            "bought",
            "purchas",
            "sell",
            "sold",
            "short",
            "invest",
            "dump",
            "grab",
            "accumulat",
            "hold",
            "load",
            "pick",
            "scoop",
            "snap",
            "get in",
            "go long",
            "going long",
            "bet",
            "trad",
            "ape",
            "yolo",
        ),
        re.compile(rf"(?<![\w-])(?i:{VERBS})(?i:{_FILLER})\s+{_SYMBOL}{_AFTER_SECURITY}"),
        ("buy ALL today", "Buy RIVN now", "I'd load up on PLTR.", "sell T before earnings"),
        ("buy all your groceries", "hold on to it", "buy a CD", "you could sell it", "Buy IT gear"),
        on_deleeted=False,
        case_kept=True,
        anchors=_VERB_ANCHORS,
    ),  # fmt: skip
    _regex_rule(
        "security",
        "security noun after a symbol",
        ("stock", "share", "option", "call", "put"),
        re.compile(rf"(?<![\w-]){_SYMBOL}(?:'s)?\s+(?i:stock|stocks|shares|options|calls|puts)(?![\w-])"),
        ("RIVN shares", "XYZ stock", "T calls"),
        ("ETF shares", "CD options"),
        on_deleeted=False,
        case_kept=True,
    ),
]

_DIRECTIVE = (
    r"(?:you should|you must|you need to|you have to|you ought to|you'd better|you better|"
    r"i recommend|i'd recommend|we recommend|i suggest|we suggest|i advise|we advise|my advice is to|"
    r"my advice:|the smart move is to|it's time to|now is the time to|make sure (?:to|you)|be sure to|"
    r"go ahead and|just)"
)
_DIRECTIVE_ANCHORS = ("you", "i", "we", "my", "the", "it", "now", "make", "be", "go", "just")
_DIRECTIVE_TRIGGERS = (
    "you ",
    "recommend",
    "suggest",
    "advise",
    "advice",
    "smart move",
    "time to",
    "sure",
    "go ahead",
    "just",
)
_INVESTMENTS = (
    r"stocks?|shares|crypto\w*|bonds?|etfs?|funds?|options|gold|silver|coins?|tokens?|securities|reits?|"
    r"annuit\w+|penny stocks|index funds?|the (?:stock )?market|the dip"
)

_PHRASE_RULES = [
    _regex_rule(
        "return_promise",
        "guaranteed returns",
        ("guarantee",),
        re.compile(
            r"(?<![\w-])guarantee[ds]?\b(?:\W+\w+){0,4}?\W+(?:returns?|profits?|gains?|yields?|payouts?|"
            r"growth|\d+(?:\.\d+)?\s*%)(?![\w-])|(?<![\w-])(?:returns?"
            r"|profits?|gains?|yields?)\b(?:\W+\w+){0,3}?"
            r"\W+(?:are|is)\s+guaranteed"
        ),
        (
            "It offers a guaranteed return.",
            "guaranteed 20% return",
            "a guaranteed profit",
            "This fund has guaranteed returns.",
            "returns are guaranteed",
        ),
        (
            "returns are not guaranteed",
            "there are no guaranteed returns",
            "credit approval is not guaranteed",
            "past performance does not guarantee future returns",
        ),
        negatable=True,
        anchors=("guarantee*", "return*", "profit*", "gain*", "yield*"),
    ),  # fmt: skip
    _regex_rule(
        "return_promise",
        "can't lose",
        ("lose",),
        re.compile(
            r"(?<![\w-])(?:can ?not|can't|won't|will not|never|impossible to|no way to|no way you can)\s+"
            r"(?:possibly\s+)?lose(?!\s+(?:sight|track|touch|focus"
            r"|weight|hope|heart|interest|your\s+(?:way|place)))"
            r"(?![\w-])|(?<![\w-])no[\s-]lose(?![\w-])"
        ),
        ("can't lose", "You cannot lose money here", "a no-lose bet", "you won't lose"),
        ("you can't lose sight of your goals", "you might lose money"),
        anchors=("can", "cannot", "won", "will", "never", "impossible", "no"),
    ),
    _regex_rule(
        "return_promise",
        "risk-free",
        ("risk", "safe"),
        re.compile(
            r"(?<![\w-])(?:risk[\s-]*free|riskless|zero[\s-]risk|no[\s-]risk|without (?:any )?risk|"
            r"100% safe|totally safe|completely safe|perfectly safe)(?![\w-])"
        ),
        ("risk free", "a risk-free return", "zero risk", "It's 100% safe"),
        ("no investment is risk-free", "nothing is risk free", "index funds spread risk"),
        negatable=True,
        anchors=("risk*", "zero", "no", "without", "100", "totally", "completely", "perfectly"),
    ),
    _regex_rule(
        "return_promise",
        "multiply your money",
        ("double", "triple", "quadruple", "multiply", "grow", "x your", "x their"),
        re.compile(
            r"(?<![\w-])(?:double|triple|quadruple|multiply|grow|10x|2x|3x|5x|100x)\s+(?:your|their|the)\s+"
            r"(?:money|investment|savings|cash|wealth|paycheck)\s+(?:fast|quickly|overnight|in\s+\w+)"
            r"|(?<![\w-])(?:double|triple|quadruple|multiply|10x|2x|3x|5x|100x)\s+(?:your|their)\s+"
            r"(?:money|investment|savings|cash|wealth)(?![\w-])"
            r"|(?<![\w-])(?:doubles|triples)\s+(?:your\s+)?money"
        ),
        ("double your money", "Triple your savings", "this doubles your money", "10x your cash"),
        ("money you save", "grow your savings over time"),
        negatable=True,
        anchors=("double*", "triple*", "quadruple", "multiply", "grow", "10x", "2x", "3x", "5x", "100x"),
    ),
    _regex_rule(
        "return_promise",
        "promised gains",
        ("rich", "sure", "miss", "money", "market", "moon", "will", "going to", "to ", "'ll"),
        re.compile(
            r"(?<![\w-])(?:get rich (?:quick|fast)|sure (?:thing|bet|win)|can't miss|easy money|free money|"
            r"beat(?:s|ing)? the market|to the moon|"
            r"(?:will|is going to|guaranteed to|certain to|bound"
            r" to|sure to)\s+(?:go up|rise|soar|skyrocket|moon|"
            r"double|triple|outperform|pay off big|make you rich)|"
            r"you(?:'ll| will) (?:earn|make|get|see|receive) (?:at"
            r" least |around |about )?(?:\$\d|\d+(?:\.\d+)?\s*%))"
        ),
        ("a sure thing", "get rich quick", "it will skyrocket", "you'll earn 12% a year", "beat the market"),
        ("surely this helps", "prices may rise"),
        negatable=True,
        anchors=(
            "get",
            "sure",
            "can",
            "easy",
            "free",
            "beat*",
            "to",
            "will",
            "is",
            "guaranteed",
            "certain",
            "bound",
            "you",
        ),
    ),
    _regex_rule(
        "investment_directive",
        "directive to invest, buy or sell",
        _DIRECTIVE_TRIGGERS,
        re.compile(
            rf"(?<![\w-]){_DIRECTIVE}\s+(?:that you\s+)?(?:\w+\s+){{0,2}}?(?:invest(?:ing)?|short(?:ing)?|"
            rf"trad(?:e|ing)\s+(?:{_INVESTMENTS}))(?![\w-])"
            rf"|(?<![\w-]){_DIRECTIVE}\s+(?:that"
            rf" you\s+)?(?:\w+\s+){{0,2}}?(?:buy|sell|purchase|dump)(?:ing)?\s+"
            rf"(?:\w+\s+){{0,3}}?(?:{_INVESTMENTS})(?![\w-])"
        ),
        (
            "You should invest in index funds.",
            "I recommend investing now",
            "you should buy more stocks",
            "we recommend selling your bonds",
        ),
        ("you can explore how index funds work", "you should review your subscriptions"),
        anchors=_DIRECTIVE_ANCHORS,
    ),  # fmt: skip
    _regex_rule(
        "investment_directive",
        "order to trade",
        ("buy", "sell", "short", "dump", "all", "put "),
        re.compile(
            r"(?<![\w-])(?:buy|sell|short|dump)(?:ing)?\s+(?:some\s+"
            r"|more\s+|a few\s+)?(?:shares|stocks?)\s+(?:of|in)"
            r"|(?<![\w-])sell your (?:shares|stocks?|holdings|position)|buy the dip|(?:go|going) all[\s-]in"
            r"|put (?:all|everything|all of your|your (?:savings"
            r"|emergency fund|paycheck|money))\s+(?:\w+\s+){0,2}?"
            r"(?:in|into)\s+(?:crypto\w*|stocks?|bitcoin|the (?:stock )?market|options|a single stock)"
        ),
        (
            "Buy shares of a tech company.",
            "sell your shares",
            "buy the dip",
            "put all your savings into crypto",
        ),
        ("buy groceries in bulk", "shares of the budget"),
        anchors=("buy*", "sell*", "short*", "dump*", "go", "going", "put"),
    ),
    _regex_rule(
        "tax_directive",
        "tax directive",
        (
            "claim",
            "deduct",
            "write",
            "itemiz",
            "amend",
            "declar",
            "convert",
            "roll",
            "file",
            "report",
            "irs",
            "tax",
        ),
        re.compile(
            rf"(?<![\w-]){_DIRECTIVE}\s+(?:\w+\s+){{0,2}}?(?:claim|deduct|write (?:it|this|that|them)? ?off|"
            r"itemize|amend|declare|convert|roll over|take the (?:standard )?deduction|file (?:your |an? )?"
            r"(?:taxes|tax return|return|jointly|separately|extension|amended)|report (?:it|this|that) as)"
            r"|(?<![\w-])file (?:your (?:taxes|return) )?as (?:head of household|single|married)"
            r"|(?<![\w-])claim (?:it|this|that|them|[\w\s]{1,30}?)"
            r" as an? (?:tax )?(?:deduction|write[\s-]?off|dependent)"
            r"|(?<![\w-])write (?:it|this|that|them) off"
            r"|(?<![\w-])(?:deduct|write off) (?:it|this|that|them"
            r"|your \w+) (?:on|from) your (?:taxes|tax return)"
            r"|(?<![\w-])(?:hide|shelter|keep)\s+(?:\w+\s+){0,3}from the irs"
            r"|(?<![\w-])(?:don't|do not|no need to|never) (?:report"
            r"|declare|pay taxes? on) (?:this|it|that|your)"
            r"|(?<![\w-])avoid (?:paying )?taxes? by|(?<![\w-])stop"
            r" paying (?:your )?(?:taxes|estimated taxes)"
        ),
        (
            "You should claim the deduction.",
            "File your taxes as head of household.",
            "claim your car as a deduction",
            "just write it off",
            "don't report this income",
            "you should file jointly",
        ),
        ("a tax refund can seed your emergency fund", "taxes are due in April"),
        anchors=(
            *_DIRECTIVE_ANCHORS,
            "file",
            "claim",
            "write",
            "deduct",
            "hide",
            "shelter",
            "keep",
            "don",
            "do",
            "no",
            "never",
            "avoid",
            "stop",
        ),
    ),  # fmt: skip
    _regex_rule(
        "legal_directive",
        "legal directive",
        (
            "sue",
            "suing",
            "lawsuit",
            "court",
            "bankrupt",
            "lease",
            "paying",
            "collector",
            "legal",
            "by law",
            "required",
            "obligated",
            "judgment",
            "debt",
        ),
        re.compile(
            rf"(?<![\w-])(?:{_DIRECTIVE}|consider|go"
            rf"|then)\s+(?:\w+\s+){{0,2}}?(?:sue|suing|file (?:a )?lawsuit|"
            r"take (?:them|him|her|it) to court|file for bankruptcy"
            r"|declare bankruptcy|break (?:your|the) lease|"
            r"stop paying|ignore (?:the )?(?:debt )?collectors?)(?![\w-])"
            r"|(?<![\w-])sue (?:them|him|her|your|the)(?![\w-])"
            r"|(?<![\w-])(?:legally|by law),? you (?:must|have to|are"
            r" required|are obligated|don't have to|do not have to)"
            r"|(?<![\w-])you are (?:legally|not legally) (?:required|obligated|liable|responsible)"
            r"|(?<![\w-])you(?:'re| are) not (?:legally )?(?:required|obligated) to pay"
            r"|(?<![\w-])(?:ignore|don't pay|stop paying|refuse to pay) (?:the |your |this |that )?"
            r"(?:debt collectors?|collectors?|collection agency|judgment)"
        ),
        (
            "Legally you must report it.",
            "you should sue your landlord",
            "sue them",
            "you should file for bankruptcy",
            "you are not legally required to pay",
            "ignore the debt collectors",
        ),
        ("Sue from accounting", "bankruptcy stays on a credit report for years"),
        anchors=(
            *_DIRECTIVE_ANCHORS,
            "consider",
            "then",
            "sue",
            "legally",
            "by",
            "ignore",
            "don",
            "refuse",
            "stop",
        ),
    ),  # fmt: skip
]


@cache
def advice_rules() -> tuple[AdviceRule, ...]:
    """Every rule, securities first."""
    return (*_SECURITY_RULES, *_PHRASE_RULES)


def advice_matches(forms: TextForms) -> dict[str, list[str]]:
    """kind -> the distinct matched phrases of a text (lower case)."""
    found: dict[str, set[str]] = {}
    for rule in advice_rules():
        for phrase in rule.find(forms):
            found.setdefault(rule.kind, set()).add(phrase.lower())
    return {kind: sorted(phrases) for kind, phrases in found.items()}
