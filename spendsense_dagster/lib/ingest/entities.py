"""What each input entity holds: its fields (in the column order of docs/data_contract.md), which are
required, the values each accepts, and the rules and parent checks that quarantine a record.

Required fields are the keys plus what the later stages cannot do without (a transaction's date and
amount, a user's type and consent); every other field may be missing and is then null.
"""

from __future__ import annotations

from dataclasses import dataclass

from spendsense_dagster.lib.core.settings import Settings

# The SQL type each field kind is loaded as, and how an invalid_type detail names it.
KIND_SQL_TYPES = {
    "text": "varchar",
    "double": "double",
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "text_list": "varchar[]",
}
KIND_DESCRIPTIONS = {
    "text": "a string",
    "double": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "date": "a date",
    "timestamp": "a timestamp",
    "text_list": "a list of strings",
}

# Machine-readable rejection reasons, in the order the checks run (the first failing one is recorded).
REJECTION_REASONS = (
    "not_an_object",
    "duplicate_field",
    "missing_required_field",
    "invalid_type",
    "invalid_value",
    "unsupported_currency",
    "invalid_credit_limit",
    "future_date",
    "duplicate_key",
    "orphan_user",
    "orphan_account",
    "user_mismatch",
)


# A non-zero amount, balance or limit smaller than this is not money; as a divisor (utilisation,
# months of spend) it would make a ratio infinite.
MIN_MONEY_MAGNITUDE = 0.0001
# Plausibility kinds (PlausibilityBounds fields) held to MIN_MONEY_MAGNITUDE as well as their bound.
MONEY_BOUNDS = ("amount", "balance", "limit")


@dataclass(frozen=True)
class PlausibilityBounds:
    """The largest plausible magnitude per kind of number (docs/ingest.md); beyond it, invalid_value.

    Defaults are Settings' (SPENDSENSE_MAX_ABS_AMOUNT, ...), which caps them so that no sum or variance
    over accepted values can overflow.
    """

    amount: float = Settings.max_abs_amount  # |transaction amount|, payment amounts
    balance: float = Settings.max_abs_balance  # |account balance|, statement balance
    limit: float = Settings.max_credit_limit  # |credit limit|
    apr: float = Settings.max_apr  # APRs and loan interest rates, in percent

    @classmethod
    def from_settings(cls, settings: Settings) -> PlausibilityBounds:
        return cls(
            amount=settings.max_abs_amount,
            balance=settings.max_abs_balance,
            limit=settings.max_credit_limit,
            apr=settings.max_apr,
        )


DEFAULT_BOUNDS = PlausibilityBounds()


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool = False
    # Accepted values, compared trimmed and lower-cased; the column stores that normalised form.
    allowed: tuple[str, ...] = ()
    non_negative: bool = False
    # A PlausibilityBounds field name: the value must lie within that bound (numbers only).
    bound: str | None = None

    @property
    def sql_type(self) -> str:
        return KIND_SQL_TYPES[self.kind]


@dataclass(frozen=True)
class Rule:
    """An entity rule over the typed columns; `condition` true means reject with `reason`.

    `$as_of` in a condition or detail is bound to the run's as-of date.
    """

    reason: str
    condition: str
    detail: str


@dataclass(frozen=True)
class Parent:
    """The already-loaded table a record must point at (`key` names the column on both sides).

    With `owner` set, the record's own `owner` column must agree with the parent's when present
    (else `user_mismatch`), and is filled from the parent when missing.
    """

    table: str
    key: str
    reason: str
    owner: str | None = None


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    file_stem: str
    key: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    parent: Parent | None = None

    @property
    def table(self) -> str:
        return f"raw.{self.entity}"

    @property
    def field_names(self) -> list[str]:
        return [field.name for field in self.fields]

    @property
    def uses_as_of(self) -> bool:
        """A rule compares with the run's as-of date (bound as the `$as_of` parameter)."""
        return any("$as_of" in rule.condition for rule in self.rules)


def _credit_card(type_column: str, subtype_column: str) -> str:
    return (
        f"(lower(trim({type_column})) in ('credit card', 'credit') "
        f"or lower(trim({subtype_column})) = 'credit card')"
    )


USERS = EntitySpec(
    entity="users",
    file_stem="synthetic_users",
    key="user_id",
    fields=(
        Field("user_id", "text", required=True),
        Field("full_name", "text"),
        Field("email", "text"),
        Field("created_at", "timestamp"),
        # Consent decides whether anything is generated for a person: never guessed when absent.
        Field("consent_status", "boolean", required=True),
        Field("consent_granted_at", "timestamp"),
        Field("consent_revoked_at", "timestamp"),
        Field("user_type", "text", required=True, allowed=("customer", "operator")),
        Field("age_band", "text"),
        Field("region", "text"),
    ),
)

ACCOUNTS = EntitySpec(
    entity="accounts",
    file_stem="synthetic_accounts",
    key="account_id",
    fields=(
        Field("account_id", "text", required=True),
        Field("user_id", "text", required=True),
        Field("type", "text", required=True),
        Field("subtype", "text"),
        Field("balance_available", "double", bound="balance"),
        Field("balance_current", "double", bound="balance"),
        Field("balance_limit", "double", bound="limit"),
        # Null means USD (as in Plaid, where a null ISO code comes with an unofficial currency).
        Field("iso_currency_code", "text"),
        Field("holder_category", "text"),
        Field("created_at", "timestamp"),
    ),
    rules=(
        Rule(
            "unsupported_currency",
            "iso_currency_code is not null and upper(trim(iso_currency_code)) <> 'USD'",
            "'iso_currency_code ' || iso_currency_code || ' is not USD'",
        ),
        Rule(
            "invalid_credit_limit",
            f"{_credit_card('type', 'subtype')} and coalesce(balance_limit, 0) <= 0",
            "'credit card balance_limit is ' || coalesce(balance_limit::varchar, 'missing')",
        ),
    ),
    parent=Parent("raw.users", "user_id", "orphan_user"),
)

TRANSACTIONS = EntitySpec(
    entity="transactions",
    file_stem="synthetic_transactions",
    key="transaction_id",
    fields=(
        Field("transaction_id", "text", required=True),
        Field("account_id", "text", required=True),
        # Optional: taken from the account's owner when missing (user_mismatch when it disagrees).
        Field("user_id", "text"),
        Field("date", "date", required=True),
        Field("amount", "double", required=True, bound="amount"),
        Field("merchant_name", "text"),
        Field("merchant_entity_id", "text"),
        Field("payment_channel", "text"),
        Field("category_primary", "text"),
        Field("category_detailed", "text"),
        Field("pending", "boolean"),
        Field("created_at", "timestamp"),
    ),
    rules=(
        Rule(
            "future_date",
            '"date" > $as_of',
            "'date ' || \"date\" || ' is after the as-of date ' || $as_of",
        ),
    ),
    parent=Parent("raw.accounts", "account_id", "orphan_account", owner="user_id"),
)

LIABILITIES = EntitySpec(
    entity="liabilities",
    file_stem="synthetic_liabilities",
    key="liability_id",
    fields=(
        Field("liability_id", "text", required=True),
        Field("account_id", "text", required=True),
        Field("user_id", "text"),
        Field("liability_type", "text"),
        Field("apr_purchase", "double", non_negative=True, bound="apr"),
        Field("apr_balance_transfer", "double", non_negative=True, bound="apr"),
        Field("apr_cash_advance", "double", non_negative=True, bound="apr"),
        Field("minimum_payment_amount", "double", non_negative=True, bound="amount"),
        Field("last_payment_amount", "double", non_negative=True, bound="amount"),
        Field("is_overdue", "boolean"),
        Field("next_payment_due_date", "date"),
        Field("last_statement_balance", "double", bound="balance"),
        Field("interest_rate", "double", non_negative=True, bound="apr"),
        Field("created_at", "timestamp"),
    ),
    parent=Parent("raw.accounts", "account_id", "orphan_account", owner="user_id"),
)

PRODUCTS = EntitySpec(
    entity="products",
    file_stem="product_catalog",
    key="product_id",
    fields=(
        Field("product_id", "text", required=True),
        Field("product_name", "text", required=True),
        Field("product_type", "text"),
        Field("category", "text"),
        Field("persona_targets", "text_list"),
        Field("min_income", "double", non_negative=True),
        Field("max_credit_utilization", "double", non_negative=True),
        Field("requires_no_existing_savings", "boolean"),
        Field("requires_no_existing_investment", "boolean"),
        Field("short_description", "text"),
        Field("benefits", "text_list"),
        Field("typical_apy_or_fee", "text"),
        Field("partner_name", "text"),
        Field("partner_link", "text"),
        Field("disclosure", "text"),
        Field("priority", "integer"),
        Field("active", "boolean"),
    ),
)

ENTITIES = {spec.entity: spec for spec in (USERS, ACCOUNTS, TRANSACTIONS, LIABILITIES, PRODUCTS)}
