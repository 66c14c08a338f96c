"""Rebuild data/guardrails/us_listings.csv: the securities the regulated-advice guardrail knows by name.

Source: the S&P 500, NASDAQ-100 and Dow Jones constituents of the `pytickersymbols` package (index
membership scraped from Wikipedia; 1.17.10 was used for the committed file), plus the hand-kept rows
below (ETFs, mutual funds, crypto coins and widely traded stocks outside those indices). Rows whose
`source` is `manual` in the current file are kept as they are, so hand edits survive a rebuild.

`symbol_needs_context` is true when the symbol alone is an English word (the system word list,
Debian's `wamerican`), a finance term, one or two letters long, or the company's own name: such a
symbol only counts with a `$`, an exchange prefix or an investing verb next to it.

Usage (not part of the pipeline; run by hand when the list needs refreshing):

    pip install pytickersymbols && apt-get install wamerican
    python scripts/update_us_listings.py
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pytickersymbols.indices_data import INDICES

OUT = Path(__file__).resolve().parents[1] / "data" / "guardrails" / "us_listings.csv"
WORDS = Path("/usr/share/dict/american-english")
INDEX_NAMES = ("S&P 500", "NASDAQ 100", "DOW JONES")
COLUMNS = ("symbol", "name", "aliases", "kind", "symbol_needs_context", "source")

# Finance words that are also tickers: educational text uses them all the time.
FINANCE_TERMS = {
    "fico", "apr", "apy", "ira", "hsa", "fsa", "etf", "cd", "ach", "atm", "fdic", "ipo", "roth", "mtd", "ytd",
    "psa",
}  # fmt: skip

# Fixes to the scraped names (wrong rows in the source data).
NAME_FIXES = {
    "AIZ": "Assurant",
    "APO": "Apollo Global Management",
    "BEN": "Franklin Resources",
    "BF.B": "Brown-Forman",
    "PTC": "PTC Inc.",
}

# Short names people use for a company, beyond the name with its legal suffix removed.
EXTRA_ALIASES = {
    "GOOG": ("google",),
    "GOOGL": ("google",),
    "META": ("meta", "facebook"),
    "BRK.B": ("berkshire",),
    "JPM": ("jpmorgan", "chase"),
    "F": ("ford",),
    "GM": ("gm",),
    "KO": ("coca-cola", "coke"),
    "JNJ": ("j&j",),
    "PG": ("p&g",),
    "AXP": ("amex",),
    "XOM": ("exxon",),
    "LLY": ("eli lilly", "lilly"),
    "WMT": ("wal-mart",),
    "DIS": ("disney",),
    "HD": ("the home depot",),
    "CMG": ("chipotle",),
    "MSTR": ("strategy",),
    "SCHW": ("schwab",),
    "TMUS": ("t-mobile",),
    "PM": ("philip morris",),
}

MANUAL_ROWS = [
    # symbol, name, aliases, kind
    ("BRK.A", "Berkshire Hathaway", "berkshire hathaway;berkshire", "stock"),
    ("RIVN", "Rivian Automotive", "rivian", "stock"),
    ("LCID", "Lucid Group", "lucid", "stock"),
    ("GME", "GameStop", "gamestop", "stock"),
    ("AMC", "AMC Entertainment", "amc", "stock"),
    ("SOFI", "SoFi Technologies", "sofi", "stock"),
    ("NIO", "NIO Inc.", "nio", "stock"),
    ("BABA", "Alibaba Group", "alibaba", "stock"),
    ("TSM", "Taiwan Semiconductor Manufacturing", "tsmc;taiwan semiconductor", "stock"),
    ("SPOT", "Spotify Technology", "spotify", "stock"),
    ("SNAP", "Snap Inc.", "snap;snapchat", "stock"),
    ("RBLX", "Roblox", "roblox", "stock"),
    ("ZM", "Zoom Communications", "zoom", "stock"),
    ("PINS", "Pinterest", "pinterest", "stock"),
    ("LYFT", "Lyft", "lyft", "stock"),
    ("DKNG", "DraftKings", "draftkings", "stock"),
    ("PTON", "Peloton Interactive", "peloton", "stock"),
    ("BB", "BlackBerry", "blackberry", "stock"),
    ("NOK", "Nokia", "nokia", "stock"),
    ("SIRI", "Sirius XM", "siriusxm;sirius xm", "stock"),
    ("CHWY", "Chewy", "chewy", "stock"),
    ("ETSY", "Etsy", "etsy", "stock"),
    ("W", "Wayfair", "wayfair", "stock"),
    ("U", "Unity Software", "unity software", "stock"),
    ("SQ", "Block, Inc. (former symbol)", "square", "stock"),
    ("MARA", "MARA Holdings", "marathon digital", "stock"),
    ("RIOT", "Riot Platforms", "riot platforms", "stock"),
    ("ARM", "Arm Holdings", "arm holdings", "stock"),
    ("SPY", "SPDR S&P 500 ETF Trust", "spdr s&p 500", "etf"),
    ("VOO", "Vanguard S&P 500 ETF", "vanguard s&p 500 etf", "etf"),
    ("IVV", "iShares Core S&P 500 ETF", "ishares core s&p 500", "etf"),
    ("VTI", "Vanguard Total Stock Market ETF", "vanguard total stock market", "etf"),
    ("QQQ", "Invesco QQQ Trust", "invesco qqq", "etf"),
    ("TQQQ", "ProShares UltraPro QQQ", "", "etf"),
    ("SQQQ", "ProShares UltraPro Short QQQ", "", "etf"),
    ("SOXL", "Direxion Daily Semiconductor Bull 3X", "", "etf"),
    ("IWM", "iShares Russell 2000 ETF", "", "etf"),
    ("DIA", "SPDR Dow Jones Industrial Average ETF", "", "etf"),
    ("GLD", "SPDR Gold Shares", "", "etf"),
    ("SLV", "iShares Silver Trust", "", "etf"),
    ("ARKK", "ARK Innovation ETF", "ark innovation", "etf"),
    ("SCHD", "Schwab U.S. Dividend Equity ETF", "", "etf"),
    ("VYM", "Vanguard High Dividend Yield ETF", "", "etf"),
    ("VGT", "Vanguard Information Technology ETF", "", "etf"),
    ("VXUS", "Vanguard Total International Stock ETF", "", "etf"),
    ("VT", "Vanguard Total World Stock ETF", "", "etf"),
    ("BND", "Vanguard Total Bond Market ETF", "", "etf"),
    ("AGG", "iShares Core U.S. Aggregate Bond ETF", "", "etf"),
    ("JEPI", "JPMorgan Equity Premium Income ETF", "", "etf"),
    ("IBIT", "iShares Bitcoin Trust", "", "etf"),
    ("VTSAX", "Vanguard Total Stock Market Index Fund Admiral Shares", "", "fund"),
    ("VFIAX", "Vanguard 500 Index Fund Admiral Shares", "", "fund"),
    ("FXAIX", "Fidelity 500 Index Fund", "", "fund"),
    ("FZROX", "Fidelity ZERO Total Market Index Fund", "", "fund"),
    ("BTC", "Bitcoin", "bitcoin;bitcoins", "crypto"),
    ("ETH", "Ethereum", "ethereum", "crypto"),
    ("DOGE", "Dogecoin", "dogecoin", "crypto"),
    ("SOL", "Solana", "solana", "crypto"),
    ("XRP", "XRP", "", "crypto"),
    ("ADA", "Cardano", "cardano", "crypto"),
    ("LTC", "Litecoin", "litecoin", "crypto"),
    ("SHIB", "Shiba Inu", "", "crypto"),
    ("USDT", "Tether", "", "crypto"),
    ("USDC", "USD Coin", "usd coin", "crypto"),
    ("BNB", "BNB", "binance coin", "crypto"),
    ("DOT", "Polkadot", "polkadot", "crypto"),
    ("AVAX", "Avalanche", "", "crypto"),
    ("LINK", "Chainlink", "chainlink", "crypto"),
    ("PEPE", "Pepe", "pepecoin", "crypto"),
]

_SUFFIXES = re.compile(
    r"(,?\s+(inc\.?|incorporated|corporation|corp\.?|company|co\.|holdings|holding|group|plc|ltd\.?|"
    r"limited|n\.v\.|s\.a\.|& co\.?|companies|\(.*\)))+$"
)


def short_name(name: str) -> str:
    short = name.lower().replace("–", "-").strip()
    short = re.sub(r"^the\s+", "", short)
    return _SUFFIXES.sub("", short).strip()


def needs_context(symbol: str, aliases: list[str], words: set[str]) -> bool:
    plain = symbol.lower().split(".")[0]
    return len(plain) <= 2 or plain in words or plain in FINANCE_TERMS or plain in aliases


def main() -> None:
    words = {line.strip().lower() for line in WORDS.read_text(encoding="utf-8").splitlines()}
    kept = {}
    if OUT.exists():
        with OUT.open(encoding="utf-8") as handle:
            kept = {row["symbol"]: row for row in csv.DictReader(handle) if row["source"] == "manual"}
    rows = {}
    for index in INDEX_NAMES:
        for company in INDICES[index]["companies"]:
            symbol = company["symbol"]
            name = NAME_FIXES.get(symbol, company["name"])
            aliases = list(dict.fromkeys([short_name(name), *EXTRA_ALIASES.get(symbol, ())]))
            rows.setdefault(symbol, (name, aliases, "stock", "pytickersymbols 1.17.10"))
    for symbol, name, aliases, kind in MANUAL_ROWS:
        rows[symbol] = (name, [a for a in aliases.split(";") if a], kind, "manual")
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for symbol in sorted(rows):
            if symbol in kept:
                writer.writerow(kept[symbol])
                continue
            name, aliases, kind, source = rows[symbol]
            writer.writerow(
                {
                    "symbol": symbol,
                    "name": name,
                    "aliases": ";".join(aliases),
                    "kind": kind,
                    "symbol_needs_context": str(needs_context(symbol, aliases, words)).lower(),
                    "source": source,
                }
            )
    print(f"{OUT}: {len(rows)} securities")


if __name__ == "__main__":
    main()
