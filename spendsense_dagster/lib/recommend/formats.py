"""How the user's numbers read in text, in one table: templates, partner offers and the guardrails'
number checks all use it, so "$3,120" means the same thing everywhere.

Each feature has a unit. Money reads in whole dollars from $100 up and with cents below; fractions
read as percentages; months with one decimal; days and counts as whole numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["money", "fraction", "months", "days", "count"]

FEATURE_UNITS: dict[str, Unit] = {
    **dict.fromkeys(
        (
            "total_spend",
            "avg_monthly_spend",
            "monthly_recurring_spend",
            "net_savings_inflow",
            "total_savings_balance",
            "estimated_monthly_interest",
            "avg_monthly_income",
            "checking_balance",
        ),
        "money",
    ),
    **dict.fromkeys(
        (
            "max_utilization",
            "avg_utilization",
            "subscription_spend_share",
            "savings_growth_rate",
            "income_variability",
        ),
        "fraction",
    ),
    **dict.fromkeys(("emergency_fund_months", "cash_flow_buffer_months"), "months"),
    "median_pay_gap_days": "days",
}


@dataclass(frozen=True)
class DerivedValue:
    """A number templates quote that is computed from features: sum(feature * factor), in `unit`."""

    terms: tuple[tuple[str, float], ...]
    unit: Unit = "money"

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(feature for feature, _ in self.terms)

    def value(self, features: Mapping[str, Any]) -> float | None:
        numbers = [as_number(features.get(feature)) for feature, _ in self.terms]
        if any(number is None for number in numbers):
            return None
        return sum(number * factor for number, (_, factor) in zip(numbers, self.terms, strict=True))


# The derived values of the offline templates (placeholders) and of the grounding guardrail, one table.
DERIVED_VALUES: dict[str, DerivedValue] = {
    "yearly_interest": DerivedValue((("estimated_monthly_interest", 12),)),
    "yearly_recurring_spend": DerivedValue((("monthly_recurring_spend", 12),)),
    "yearly_savings": DerivedValue((("net_savings_inflow", 12),)),
    "three_month_target": DerivedValue((("avg_monthly_spend", 3),)),
    "six_month_target": DerivedValue((("avg_monthly_spend", 6),)),
    "monthly_surplus": DerivedValue((("avg_monthly_income", 1), ("avg_monthly_spend", -1))),
}


def derived_values(features: Mapping[str, Any]) -> dict[str, float]:
    """Every derived value the user's features allow (a null source leaves it out)."""
    values = {name: derived.value(features) for name, derived in DERIVED_VALUES.items()}
    return {name: value for name, value in values.items() if value is not None}


def unit_of(feature: str) -> Unit:
    """A feature's unit; features not in the table are counts (transactions, cards, merchants)."""
    return FEATURE_UNITS.get(feature, "count")


def money(value: float) -> str:
    text = f"${abs(value):,.0f}" if abs(value) >= 100 else f"${abs(value):,.2f}"
    return f"-{text}" if value < 0 else text


def percent(fraction: float) -> str:
    # 2.8% rather than 3%: small shares keep one decimal so they still read as the user's number.
    return f"{fraction * 100:.0f}%" if abs(fraction) >= 0.1 else f"{fraction * 100:.1f}%"


def one_decimal(value: float) -> str:
    return f"{value:.1f}"


def whole(value: float) -> str:
    return f"{value:,.0f}"


UNIT_FORMATS: dict[Unit, Callable[[float], str]] = {
    "money": money,
    "fraction": percent,
    "months": one_decimal,
    "days": whole,
    "count": whole,
}


def format_feature(feature: str, value: float) -> str:
    """The value as it reads in a sentence (no unit word for months and days: the text adds it)."""
    return UNIT_FORMATS[unit_of(feature)](value)


def as_number(value: Any) -> float | None:
    """A numeric feature value as a float; None for null, booleans and text."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
