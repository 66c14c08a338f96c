"""The persona names, in the priority order of SPEC §5; the rules themselves live in dbt."""

PERSONAS = (
    "wealth_builder",
    "high_utilization",
    "savings_builder",
    "variable_income",
    "subscription_heavy",
    "general_wellness",  # no rule matched: not one of the five
)
TARGET_PERSONAS = PERSONAS[:-1]
