"""Static vocabulary of the synthetic data generator: merchants, categories, prices, demographics.

Categories follow Plaid's personal-finance codes (primary / detailed) so the data looks like a real
feed; names are upper-case as bank statements print them. Merchants marked `store_numbered` get a
per-user store number ("WALGREENS #1234"), the mess the feature SQL has to normalise away.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Merchant:
    name: str
    category_primary: str
    category_detailed: str
    payment_channel: str
    store_numbered: bool = False


@dataclass(frozen=True)
class SpendCategory:
    """A kind of everyday purchase: how often it is picked and how much it costs (log-normal)."""

    key: str
    weight: float
    typical_amount: float
    spread: float  # sigma of log(amount): wide, so a few visits to one shop rarely pass as a subscription
    merchants: tuple[Merchant, ...]


def _store(name: str, primary: str, detailed: str) -> Merchant:
    return Merchant(name, primary, detailed, "in store", store_numbered=True)


def _online(name: str, primary: str, detailed: str) -> Merchant:
    return Merchant(name, primary, detailed, "online")


def _ach(name: str, primary: str, detailed: str) -> Merchant:
    return Merchant(name, primary, detailed, "ACH")


def _bank(name: str, primary: str, detailed: str) -> Merchant:
    return Merchant(name, primary, detailed, "other")


GROCERY_STORES = tuple(
    _store(name, "FOOD_AND_DRINK", "FOOD_AND_DRINK_GROCERIES")
    for name in ("KROGER", "SAFEWAY", "WHOLE FOODS MARKET", "TRADER JOE'S", "ALDI", "PUBLIX", "H-E-B")
)

SPEND_CATEGORIES = (
    SpendCategory(
        "coffee",
        0.13,
        5.5,
        0.75,
        (
            _store("STARBUCKS", "FOOD_AND_DRINK", "FOOD_AND_DRINK_COFFEE"),
            _store("DUNKIN", "FOOD_AND_DRINK", "FOOD_AND_DRINK_COFFEE"),
            _store("PEET'S COFFEE", "FOOD_AND_DRINK", "FOOD_AND_DRINK_COFFEE"),
        ),
    ),
    SpendCategory(
        "restaurants",
        0.14,
        32.0,
        0.8,
        (
            _store("CHIPOTLE", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
            _store("OLIVE GARDEN", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
            _store("PANERA BREAD", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
            _store("CHEESECAKE FACTORY", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
            Merchant("SQ *THE CORNER BISTRO", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT", "in store"),
            Merchant("TST* NOODLE HOUSE", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT", "in store"),
        ),
    ),
    SpendCategory(
        "fast_food",
        0.11,
        11.0,
        0.75,
        (
            _store("MCDONALD'S", "FOOD_AND_DRINK", "FOOD_AND_DRINK_FAST_FOOD"),
            _store("TACO BELL", "FOOD_AND_DRINK", "FOOD_AND_DRINK_FAST_FOOD"),
            _store("SUBWAY", "FOOD_AND_DRINK", "FOOD_AND_DRINK_FAST_FOOD"),
            _store("CHICK-FIL-A", "FOOD_AND_DRINK", "FOOD_AND_DRINK_FAST_FOOD"),
        ),
    ),
    SpendCategory(
        "delivery",
        0.06,
        30.0,
        0.75,
        (
            _online("DOORDASH", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
            _online("UBER EATS", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
            _online("GRUBHUB", "FOOD_AND_DRINK", "FOOD_AND_DRINK_RESTAURANT"),
        ),
    ),
    SpendCategory(
        "shopping",
        0.20,
        42.0,
        0.95,
        (
            _online("AMAZON.COM", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"),
            _store("TARGET", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_SUPERSTORES"),
            _store("WALMART", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_SUPERSTORES"),
            _store("COSTCO WHSE", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_SUPERSTORES"),
            _store("BEST BUY", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_ELECTRONICS"),
            _store("THE HOME DEPOT", "HOME_IMPROVEMENT", "HOME_IMPROVEMENT_HARDWARE"),
            _store("OLD NAVY", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES"),
            _online("ETSY.COM", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES"),
        ),
    ),
    SpendCategory(
        "pharmacy",
        0.06,
        20.0,
        0.8,
        (
            _store("WALGREENS", "MEDICAL", "MEDICAL_PHARMACIES_AND_SUPPLEMENTS"),
            _store("CVS PHARMACY", "MEDICAL", "MEDICAL_PHARMACIES_AND_SUPPLEMENTS"),
            _store("RITE AID", "MEDICAL", "MEDICAL_PHARMACIES_AND_SUPPLEMENTS"),
        ),
    ),
    SpendCategory(
        "gas",
        0.10,
        42.0,
        0.75,
        (
            _store("SHELL OIL", "TRANSPORTATION", "TRANSPORTATION_GAS"),
            _store("CHEVRON", "TRANSPORTATION", "TRANSPORTATION_GAS"),
            _store("EXXONMOBIL", "TRANSPORTATION", "TRANSPORTATION_GAS"),
            _store("BP", "TRANSPORTATION", "TRANSPORTATION_GAS"),
        ),
    ),
    SpendCategory(
        "rides",
        0.06,
        18.0,
        0.8,
        (
            _online("UBER TRIP", "TRANSPORTATION", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES"),
            _online("LYFT RIDE", "TRANSPORTATION", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES"),
        ),
    ),
    SpendCategory(
        "entertainment",
        0.06,
        35.0,
        0.8,
        (
            _store("AMC THEATRES", "ENTERTAINMENT", "ENTERTAINMENT_TV_AND_MOVIES"),
            _online(
                "TICKETMASTER", "ENTERTAINMENT", "ENTERTAINMENT_SPORTING_EVENTS_AMUSEMENT_PARKS_AND_MUSEUMS"
            ),
            _online("STEAM GAMES", "ENTERTAINMENT", "ENTERTAINMENT_VIDEO_GAMES"),
        ),
    ),
    SpendCategory(
        "personal_care",
        0.05,
        34.0,
        0.8,
        (
            _store("GREAT CLIPS", "PERSONAL_CARE", "PERSONAL_CARE_HAIR_AND_BEAUTY"),
            _store("SEPHORA", "PERSONAL_CARE", "PERSONAL_CARE_HAIR_AND_BEAUTY"),
        ),
    ),
    SpendCategory(
        "travel",
        0.03,
        260.0,
        0.9,
        (
            _online("DELTA AIR LINES", "TRAVEL", "TRAVEL_FLIGHTS"),
            _online("UNITED AIRLINES", "TRAVEL", "TRAVEL_FLIGHTS"),
            _online("MARRIOTT HOTELS", "TRAVEL", "TRAVEL_LODGING"),
            _online("AIRBNB", "TRAVEL", "TRAVEL_LODGING"),
        ),
    ),
)


@dataclass(frozen=True)
class Subscription:
    merchant: Merchant
    price: float


def _sub(name: str, price: float, detailed: str = "ENTERTAINMENT_TV_AND_MOVIES") -> Subscription:
    primary = next(
        p for p in ("ENTERTAINMENT", "GENERAL_SERVICES", "PERSONAL_CARE") if detailed.startswith(p)
    )
    return Subscription(_online(name, primary, detailed), price)


# Fixed monthly prices: a subscription is charged the same amount on the same day every month.
SUBSCRIPTIONS = (
    _sub("NETFLIX.COM", 15.49),
    _sub("SPOTIFY USA", 11.99, "ENTERTAINMENT_MUSIC_AND_AUDIO"),
    _sub("HULU", 7.99),
    _sub("DISNEY PLUS", 13.99),
    _sub("MAX.COM", 16.99),
    _sub("PARAMOUNT PLUS", 7.99),
    _sub("YOUTUBE PREMIUM", 13.99),
    _sub("AMAZON PRIME", 14.99),
    _sub("APPLE.COM/BILL", 2.99, "GENERAL_SERVICES_OTHER_GENERAL_SERVICES"),
    _sub("PLANET FITNESS", 24.99, "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS"),
    _sub("PELOTON MEMBERSHIP", 44.00, "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS"),
    _sub("ADOBE CREATIVE CLOUD", 59.99, "GENERAL_SERVICES_OTHER_GENERAL_SERVICES"),
    _sub("MICROSOFT 365", 9.99, "GENERAL_SERVICES_OTHER_GENERAL_SERVICES"),
    _sub("NYTIMES DIGITAL", 17.00, "ENTERTAINMENT_MUSIC_AND_AUDIO"),
    _sub("AUDIBLE", 14.95, "ENTERTAINMENT_MUSIC_AND_AUDIO"),
    _sub("XBOX GAME PASS", 16.99, "ENTERTAINMENT_VIDEO_GAMES"),
    _sub("PLAYSTATION PLUS", 13.99, "ENTERTAINMENT_VIDEO_GAMES"),
    _sub("DROPBOX", 11.99, "GENERAL_SERVICES_OTHER_GENERAL_SERVICES"),
    _sub("OPENAI CHATGPT", 20.00, "GENERAL_SERVICES_OTHER_GENERAL_SERVICES"),
    _sub("DUOLINGO", 12.99, "ENTERTAINMENT_MUSIC_AND_AUDIO"),
)

LANDLORDS = tuple(
    _ach(name, "RENT_AND_UTILITIES", "RENT_AND_UTILITIES_RENT")
    for name in (
        "OAKWOOD APARTMENTS",
        "GREYSTAR RENT",
        "AVALON COMMUNITIES",
        "EQUITY RESIDENTIAL",
        "CAMDEN PROPERTY",
    )
)
PHONE_CARRIERS = tuple(
    _ach(name, "RENT_AND_UTILITIES", "RENT_AND_UTILITIES_TELEPHONE")
    for name in ("VERIZON WIRELESS", "T-MOBILE", "AT&T WIRELESS")
)
# Household bills beyond rent and phone: (merchants, typical amount, sigma of log amount).
HOUSEHOLD_BILLS = (
    (
        tuple(
            _ach(n, "RENT_AND_UTILITIES", "RENT_AND_UTILITIES_INTERNET_AND_CABLE")
            for n in ("COMCAST XFINITY", "SPECTRUM", "AT&T INTERNET")
        ),
        75.0,
        0.0,
    ),
    (
        tuple(
            _ach(n, "RENT_AND_UTILITIES", "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY")
            for n in ("PG&E", "CON EDISON", "DUKE ENERGY")
        ),
        110.0,
        0.08,
    ),
    (
        tuple(
            _ach(n, "GENERAL_SERVICES", "GENERAL_SERVICES_INSURANCE")
            for n in ("GEICO", "PROGRESSIVE", "STATE FARM")
        ),
        135.0,
        0.0,
    ),
)

GIG_PLATFORMS = tuple(
    _ach(name, "INCOME", "INCOME_OTHER_INCOME")
    for name in ("UPWORK DIRECT DEP", "FIVERR DIRECT DEP", "CONTRACT WORK DIRECT DEP", "TOPTAL DIRECT DEP")
)
CARD_ISSUERS = ("CHASE", "CITI", "CAPITAL ONE", "DISCOVER", "AMERICAN EXPRESS", "BANK OF AMERICA")
MORTGAGE_SERVICERS = ("ROCKET MORTGAGE", "WELLS FARGO HOME MTG", "MR COOPER")
STUDENT_LOAN_SERVICERS = ("NAVIENT", "NELNET", "MOHELA")

SAVINGS_TRANSFER_OUT = _ach("TRANSFER TO SAVINGS", "TRANSFER_OUT", "TRANSFER_OUT_SAVINGS")
SAVINGS_TRANSFER_IN = _ach("TRANSFER FROM CHECKING", "TRANSFER_IN", "TRANSFER_IN_SAVINGS")
INVESTMENT_TRANSFER_OUT = _ach(
    "BROKERAGE CONTRIBUTION", "TRANSFER_OUT", "TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS"
)
INVESTMENT_TRANSFER_IN = _ach(
    "CONTRIBUTION FROM CHECKING", "TRANSFER_IN", "TRANSFER_IN_INVESTMENT_AND_RETIREMENT_FUNDS"
)
HSA_CONTRIBUTION = _ach("EMPLOYER HSA CONTRIBUTION", "TRANSFER_IN", "TRANSFER_IN_DEPOSIT")
CARD_PAYMENT_RECEIVED = _bank("PAYMENT THANK YOU", "LOAN_PAYMENTS", "LOAN_PAYMENTS_CREDIT_CARD_PAYMENT")
INTEREST_CHARGE = _bank("PURCHASE INTEREST CHARGE", "BANK_FEES", "BANK_FEES_INTEREST_CHARGE")
LATE_FEE = _bank("LATE PAYMENT FEE", "BANK_FEES", "BANK_FEES_LATE_FEES")
OVERDRAFT_FEE = _bank("OVERDRAFT FEE", "BANK_FEES", "BANK_FEES_OVERDRAFT_FEES")

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_BAND_WEIGHTS = (0.12, 0.24, 0.22, 0.18, 0.14, 0.10)
REGIONS = ("Northeast", "Midwest", "South", "West")
REGION_WEIGHTS = (0.17, 0.21, 0.38, 0.24)


def employer(company: str) -> Merchant:
    """A payroll merchant from a Faker company name: "Lopez, Hall and Co" -> "LOPEZ HALL AND CO PAYROLL"."""
    words = re.sub(r"[^A-Z0-9 ]+", " ", company.upper()).split()
    return _ach(" ".join(words) + " PAYROLL", "INCOME", "INCOME_WAGES")


def card_payment(issuer: str) -> Merchant:
    return _ach(f"{issuer} CARD PAYMENT", "LOAN_PAYMENTS", "LOAN_PAYMENTS_CREDIT_CARD_PAYMENT")


def loan_payment(servicer: str, kind: str) -> Merchant:
    detailed = (
        "LOAN_PAYMENTS_MORTGAGE_PAYMENT" if kind == "mortgage" else "LOAN_PAYMENTS_STUDENT_LOAN_PAYMENT"
    )
    suffix = "MORTGAGE PMT" if kind == "mortgage" else "STUDENT LN PMT"
    return _ach(f"{servicer} {suffix}", "LOAN_PAYMENTS", detailed)


class MerchantTable:
    """Every merchant of a dataset, numbered: transactions carry the number, not the strings."""

    def __init__(self) -> None:
        self._index: dict[Merchant, int] = {}
        self.merchants: list[Merchant] = []

    def code(self, merchant: Merchant) -> int:
        if merchant not in self._index:
            self._index[merchant] = len(self.merchants)
            self.merchants.append(merchant)
        return self._index[merchant]

    def codes(self, merchants: tuple[Merchant, ...] | list[Merchant]) -> np.ndarray:
        return np.array([self.code(m) for m in merchants], dtype=np.int32)

    def columns(self) -> dict[str, list]:
        """The merchant dimension as columns, with a stable entity id per name (a hash, not a counter)."""
        return {
            "merchant_code": list(range(len(self.merchants))),
            "merchant_base_name": [m.name for m in self.merchants],
            "merchant_entity_id": [
                "mer_" + hashlib.sha256(m.name.encode()).hexdigest()[:12] for m in self.merchants
            ],
            "store_numbered": [m.store_numbered for m in self.merchants],
            "payment_channel": [m.payment_channel for m in self.merchants],
            "category_primary": [m.category_primary for m in self.merchants],
            "category_detailed": [m.category_detailed for m in self.merchants],
        }


def numbered_ids(prefix: str, numbers: np.ndarray, width: int = 6) -> pa.StringArray:
    """ "acc_000123"-style ids (never card-number-like), zero-padded to `width` digits or more.

    Built as one fixed-width byte buffer: millions of ids cost milliseconds, not seconds.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    width = max(width, len(str(int(numbers.max(initial=0)))))
    prefix_bytes = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    # One row per character position (contiguous writes), transposed once into id-after-id bytes.
    text = np.empty((len(prefix_bytes) + width, len(numbers)), dtype=np.uint8)
    text[: len(prefix_bytes)] = prefix_bytes[:, None]
    remaining = numbers.astype(np.int32) if width < 10 else numbers.copy()
    quotient, tens = np.empty_like(remaining), np.empty_like(remaining)
    for row in range(len(text) - 1, len(prefix_bytes) - 1, -1):  # last digit first
        np.floor_divide(remaining, 10, out=quotient)
        np.multiply(quotient, 10, out=tens)
        text[row] = np.subtract(remaining, tens, out=tens)
        remaining, quotient = quotient, remaining
    text[len(prefix_bytes) :] += ord("0")
    offsets = np.arange(0, (len(numbers) + 1) * len(text), len(text), dtype=np.int32)
    return pa.StringArray.from_buffers(
        len(numbers), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(text.T))
    )
