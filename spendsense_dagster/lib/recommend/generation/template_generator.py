"""The offline `template` generator: persona education pieces filled with the user's own numbers.

Deterministic, free and needs no key, so the pipeline runs anywhere. Each template is markdown with
`{placeholders}`; a placeholder is a feature column (formatted for reading) or a value derived from
features or recurring streams. A template is used only when every placeholder it names has a value,
so nothing is ever filled with a guess; the features behind its placeholders become its cited facts,
with the exact values of the features row (guardrails compare them).

Content carries no disclaimer: the recommendation asset stores it beside every item, as for `openai`.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from spendsense_dagster.lib.recommend.generation.base import context_hash
from spendsense_dagster.lib.recommend.models import (
    CitedFact,
    GeneratedItem,
    GenerationResult,
    ItemMetadata,
    UserContext,
)

MIN_ITEMS, MAX_ITEMS = 2, 3
# The templates live in this file: its hash is their version, recorded with every item.
TEMPLATES_VERSION = "template-" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]

Features = Mapping[str, Any]


def _number(features: Features, name: str) -> float | None:
    value = features.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _money(value: float) -> str:
    text = f"${abs(value):,.0f}" if abs(value) >= 100 else f"${abs(value):,.2f}"
    return f"-{text}" if value < 0 else text


def _percent(value: float) -> str:
    # 2.8% rather than 3%: small shares keep one decimal so they still read as the user's number.
    return f"{value * 100:.0f}%" if abs(value) >= 0.1 else f"{value * 100:.1f}%"


def _one_decimal(value: float) -> str:
    return f"{value:.1f}"


def _whole(value: float) -> str:
    return f"{value:,.0f}"


FEATURE_FORMATS: dict[str, Callable[[float], str]] = {
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
        _money,
    ),
    **dict.fromkeys(
        (
            "max_utilization",
            "avg_utilization",
            "subscription_spend_share",
            "savings_growth_rate",
            "income_variability",
        ),
        _percent,
    ),
    **dict.fromkeys(("emergency_fund_months", "cash_flow_buffer_months"), _one_decimal),
}


@dataclass(frozen=True)
class Placeholder:
    text: str
    cites: tuple[str, ...]  # feature columns the text is computed from


def _quoted(merchant_name: str) -> str:
    # A merchant name is data: one line, and no backticks that could open a code block in the markdown.
    return '"' + " ".join(merchant_name.replace("`", "'").split()) + '"'


def _quoted_list(names: Sequence[str]) -> str:
    quoted = [_quoted(name) for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _placeholders(context: UserContext) -> dict[str, Placeholder]:
    """Every value a template may name for this user; absent when its data is null."""
    features = context.features
    values = {
        name: Placeholder(FEATURE_FORMATS.get(name, _whole)(value), (name,))
        for name in features
        if (value := _number(features, name)) is not None
    }
    values["window_days"] = Placeholder(str(context.window_days), ())
    for name, source, factor in (
        ("yearly_interest", "estimated_monthly_interest", 12),
        ("yearly_recurring_spend", "monthly_recurring_spend", 12),
        ("yearly_savings", "net_savings_inflow", 12),
        ("three_month_target", "avg_monthly_spend", 3),
        ("six_month_target", "avg_monthly_spend", 6),
    ):
        if (value := _number(features, source)) is not None:
            values[name] = Placeholder(_money(value * factor), (source,))
    income, spend = _number(features, "avg_monthly_income"), _number(features, "avg_monthly_spend")
    streams = sorted(
        context.recurring_streams, key=lambda stream: (-stream.monthly_cost, stream.merchant_name)
    )
    if streams:
        values["top_merchants"] = Placeholder(
            _quoted_list([stream.merchant_name for stream in streams[:3]]), ()
        )
    upcoming = sorted(
        (stream.next_expected_date, stream.merchant_name) for stream in streams if stream.next_expected_date
    )
    if upcoming:
        expected, merchant = upcoming[0]
        values["next_renewal"] = Placeholder(f"{_quoted(merchant)}, expected around {expected}", ())
    if income is not None and spend is not None and income > spend:
        values["monthly_surplus"] = Placeholder(
            _money(income - spend), ("avg_monthly_income", "avg_monthly_spend")
        )
    return values


def _always(features: Features) -> bool:
    return True


def _flag(name: str) -> Callable[[Features], bool]:
    return lambda features: features.get(name) is True


def _positive(name: str) -> Callable[[Features], bool]:
    return lambda features: (_number(features, name) or 0) > 0


def _below(name: str, limit: float) -> Callable[[Features], bool]:
    return lambda features: (value := _number(features, name)) is not None and value < limit


def _at_least(name: str, limit: float) -> Callable[[Features], bool]:
    return lambda features: (value := _number(features, name)) is not None and value >= limit


@dataclass(frozen=True)
class EducationTemplate:
    title: str
    content: str
    rationale: str  # a "Because ..." sentence naming at least one feature placeholder
    priority: Literal["high", "medium", "low"]
    tags: tuple[str, ...]
    applies: Callable[[Features], bool] = _always


OVERDUE = EducationTemplate(
    title="Make every due date easy to meet",
    content="""A payment that arrives late can add a fee and, after 30 days, may show up on your credit report.
The good news: a few small setups make missed payments much less likely, and getting current again is
often simpler than it looks.

- **Turn on autopay for at least the minimum** on every credit card you hold ({credit_card_count} right
  now), so a busy week never turns into a late payment.
- **Add a reminder** three days before each due date.
- **Call your card issuer.** Many issuers offer hardship programs, a one-time late fee waiver or a new
  due date that lines up with your payday. It is worth asking.
- **Consider moving due dates** so they all fall just after you are paid.""",
    rationale="Because a card payment shows as past due and your highest card is at {max_utilization} of its "
    "limit, autopay and reminders can take the worry out of due dates.",
    priority="high",
    tags=("credit", "payments"),
    applies=_flag("any_overdue"),
)

UTILIZATION = EducationTemplate(
    title="How card utilization shapes your credit",
    content="""Utilization is the share of a card's limit you are using. Your highest card is at
{max_utilization} of its limit right now, and your cards average {avg_utilization}. Credit scores
weigh this number heavily, and many people see their scores respond within a month or two of
bringing it down.

Steps you can take:

- **Start with the fullest card.** Consider putting any extra payment toward the card closest to its
  limit first.
- **Pay before the statement date.** A payment a few days before the statement closes lowers the
  balance that gets reported.
- **Split your payment in two.** Paying half mid-month and half at the due date keeps the balance
  lower all month.
- **Aim for milestones.** Getting under 50%, then under 30%, are both goals you can track month by
  month.""",
    rationale="Because your highest card balance is at {max_utilization} of its limit, bringing it down is "
    "one of the quickest ways to support your credit score.",
    priority="high",
    tags=("credit", "utilization"),
)

INTEREST = EducationTemplate(
    title="What card interest costs you, and how to shrink it",
    content="""Based on your balances and interest rates, your cards cost an estimated
{estimated_monthly_interest} in interest each month, about {yearly_interest} over a year if balances
stay where they are. Every dollar of balance you pay down lowers that number.

Two well-known ways to organise extra payments:

- **Avalanche:** pay the minimum on every card, then put anything extra on the card with the highest
  interest rate. This saves the most money overall.
- **Snowball:** put anything extra on the smallest balance first. Clearing a card quickly can build
  momentum.

You can also explore:

- Calling your card issuer to ask whether a lower rate is available.
- Finding the rate of each card on its statement, so you know which one costs most.
- A fixed extra payment, even a small one, that runs automatically each month.""",
    rationale="Because your cards cost an estimated {estimated_monthly_interest} in interest a month, a "
    "payoff plan can free up that money for your own goals.",
    priority="high",
    tags=("credit", "interest", "payoff"),
    applies=_positive("estimated_monthly_interest"),
)

MINIMUM_PAYMENTS = EducationTemplate(
    title="Going beyond the minimum payment",
    content="""Minimum payments are designed to keep an account in good standing, not to clear the
balance. When only the minimum is paid, much of it can go to interest, and a balance can take years
to pay off.

Of your credit cards ({credit_card_count} in all), the fullest is at {max_utilization} of its limit.
Small changes to how you pay can make a real difference:

- **Add a fixed extra amount.** Even $25 or $50 above the minimum goes straight to the balance.
- **Use the payoff table on your statement.** Most statements show how long the balance takes at the
  minimum compared with a higher payment.
- **Round up.** Consider rounding each payment up to the next $50 or $100.
- **Direct windfalls.** Bonuses, refunds or gifts can make a noticeable dent.""",
    rationale="Because your recent card payments were close to the minimum and your highest card is at "
    "{max_utilization} of its limit, a small extra payment can shorten your payoff time.",
    priority="medium",
    tags=("credit", "payments"),
    applies=_flag("minimum_payment_only_flag"),
)

EMERGENCY_FUND_MONTHS = EducationTemplate(
    title="Your emergency fund, measured in months",
    content="""Your savings of {total_savings_balance} would cover about {emergency_fund_months} months of
your typical spending. Many people aim for a cushion of 3 to 6 months, so an unexpected bill or a gap
in income does not have to go on a card.

Ways you can keep building it:

- **Name the target.** Three months of your spending is about {three_month_target}; writing the
  number down makes progress easy to see.
- **Keep it separate.** An account apart from everyday checking makes the fund easier to leave alone.
- **Grow it with raises.** Consider sending part of every raise or bonus straight to savings.
- **Decide what counts as an emergency** ahead of time, so the fund stays ready for the moments that
  matter.""",
    rationale="Because your savings cover about {emergency_fund_months} months of spending, a clear target "
    "can show how close you are to a full cushion.",
    priority="high",
    tags=("savings", "emergency fund"),
    applies=_below("emergency_fund_months", 6),
)

AUTOMATE_SAVINGS = EducationTemplate(
    title="Put your savings on autopilot",
    content="""You moved about {net_savings_inflow} a month into savings over the last {window_days} days.
That is a real habit, and automation can make it effortless.

- **Schedule the transfer for payday.** Money that moves before you see it in checking is rarely
  missed.
- **Increase it gently.** Consider raising the transfer by 1% of your pay every few months, or
  whenever your income goes up.
- **Match it to your pay cycle.** If you are paid every two weeks, splitting the transfer across both
  paychecks keeps each one lighter.
- **Review twice a year.** A quick check lets you adjust the amount as your goals change.

Small, steady amounts add up: at this pace you can set aside about {yearly_savings} over a year.""",
    rationale="Because you are already saving about {net_savings_inflow} a month, automating the transfer "
    "can keep that progress going without extra effort.",
    priority="medium",
    tags=("savings", "automation"),
    applies=_positive("net_savings_inflow"),
)

SAVINGS_RATE = EducationTemplate(
    title="Help your savings earn more",
    content="""Your savings balance is {total_savings_balance}, and it grew {savings_growth_rate} over the
last {window_days} days. Where those savings sit can make a difference too: interest rates vary a lot
between account types and banks.

Things you can explore:

- **Compare rates.** High-yield savings and money market accounts often pay more than a standard
  savings account. The rate is usually shown as an annual percentage yield.
- **Check the protection.** Look for government-backed deposit insurance at a bank or credit union.
- **Watch for fees and minimum balances** that could cancel out a higher rate.
- **Consider timing.** Money you will not need for a year or more can sit in a certificate of
  deposit, while your emergency fund stays easy to reach.""",
    rationale="Because your savings of {total_savings_balance} grew {savings_growth_rate} this period, "
    "comparing interest rates can help that growth continue.",
    priority="medium",
    tags=("savings", "interest rates"),
    applies=_positive("savings_growth_rate"),
)

SAVINGS_GOALS = EducationTemplate(
    title="Give every saved dollar a job",
    content="""Savings feel more motivating when each dollar has a purpose. With {total_savings_balance}
saved, you can split it into named goals and watch each one grow.

- **Start with an emergency bucket**, for example one month of spending, about {avg_monthly_spend}
  for you.
- **Add one or two goals with dates**: a trip, a car repair fund, a course. Dividing the target by
  the months left gives a monthly amount.
- **Use sub-accounts or nicknames.** Many banks let you create several savings buckets at no cost.
- **Celebrate milestones.** Reaching 25%, 50% and 75% of a goal is worth noticing.

Consider reviewing your goals every few months; priorities change, and your plan can change with
them.""",
    rationale="Because you have {total_savings_balance} saved and spend about {avg_monthly_spend} a month, "
    "naming goals can show what that money is working toward.",
    priority="low",
    tags=("savings", "goals"),
    applies=_positive("total_savings_balance"),
)

BASELINE_BUDGET = EducationTemplate(
    title="Budget around your baseline income",
    content="""When pay arrives unevenly, budgeting on an average month can leave you short in a slow one.
Over the last {window_days} days your income averaged {avg_monthly_income} a month, and your
spending averaged {avg_monthly_spend}.

A baseline budget can help:

- **Find your baseline.** Look back over the last 6 to 12 months and note your lowest typical month.
  Consider planning essentials around that amount.
- **List essentials first.** Housing, utilities, food, transport and minimum payments come out of the
  baseline.
- **Give good months a plan.** Anything above the baseline can go, in order, to your buffer, your
  savings goals and then extras.
- **Revisit each quarter.** Your baseline can move up as your income becomes steadier.""",
    rationale="Because your income averaged {avg_monthly_income} a month against about {avg_monthly_spend} "
    "of spending, a budget built on your lowest typical month can smooth the gaps.",
    priority="high",
    tags=("budgeting", "income"),
    applies=_positive("avg_monthly_income"),
)

PAYDAY_BUFFER = EducationTemplate(
    title="A buffer for the gaps between paydays",
    content="""Your pay deposits typically arrive about {median_pay_gap_days} days apart, and your checking
balance covers about {cash_flow_buffer_months} months of spending. A buffer of one month of expenses,
about {avg_monthly_spend} for you, can turn a long gap into a non-event.

You can build it in steps:

- **Start with a first milestone**, such as one week of spending.
- **Set aside a fixed share of every deposit**, for example 10%, before anything else.
- **Keep the buffer in its own account** so it is not spent by accident.
- **Refill it after you use it.** Dipping into the buffer is exactly what it is for; topping it back
  up is the habit that matters.""",
    rationale="Because your pay arrives about {median_pay_gap_days} days apart and your checking covers "
    "{cash_flow_buffer_months} months of spending, a buffer can carry you between deposits.",
    priority="high",
    tags=("cash flow", "buffer"),
)

STEADY_SALARY = EducationTemplate(
    title="Pay yourself a steady salary",
    content="""One approach many freelancers and gig workers use is to pay themselves a steady "salary"
from a holding account.

How it works:

- **Route all income into one holding account** instead of everyday checking.
- **Pick a fixed amount** to move to checking on a set schedule, such as every other Friday. A good
  starting point is close to your typical monthly spending of {avg_monthly_spend}.
- **Let the holding account absorb the ups and downs.** Big months top it up; slow months draw it
  down.
- **Adjust every few months** as the holding balance grows.

Right now your checking balance is {checking_balance}. You can explore starting small: even a few
weeks of salary in the holding account makes paydays more predictable.""",
    rationale="Because your checking balance is {checking_balance} and you spend about {avg_monthly_spend} "
    "a month, a steady transfer from a holding account can even out uneven paydays.",
    priority="medium",
    tags=("cash flow", "income"),
)

SUBSCRIPTION_AUDIT = EducationTemplate(
    title="Take stock of your subscriptions",
    content="""You have {recurring_merchants} recurring charges adding up to about {monthly_recurring_spend}
a month. The largest include {top_merchants}. Subscriptions are easy to start and easy to forget, so
a quick audit can help you keep the ones you value.

A 20-minute audit you can try:

- **List every recurring charge**, its amount and its renewal date.
- **Ask one question for each:** did I use this in the last month, and would I sign up again today?
- **Sort into keep, pause and cancel.** Many services let you pause instead of cancelling.
- **Check for overlaps**, such as two streaming or storage services that do the same job.

Consider repeating the audit every six months; it takes little time once the list exists.""",
    rationale="Because you have {recurring_merchants} recurring charges totalling about "
    "{monthly_recurring_spend} a month, a short audit can confirm each one is still worth it to you.",
    priority="high",
    tags=("subscriptions", "budgeting"),
)

SUBSCRIPTION_YEAR = EducationTemplate(
    title="What your subscriptions add up to in a year",
    content="""Monthly charges look small one at a time. Yours total about {monthly_recurring_spend} a
month, roughly {yearly_recurring_spend} a year, and recurring charges made up
{subscription_spend_share} of your spending over the last {window_days} days.

Seeing the yearly number can help you decide what is worth it:

- **Compare annual and monthly plans.** For services you use all year, an annual plan is often
  cheaper.
- **Ask about cheaper tiers**, or student, family and bundle options.
- **Share where it is allowed**, such as family plans.
- **Set a monthly subscription budget** and consider rotating services rather than stacking them.

You can keep every subscription you love; the goal is that each one is a choice.""",
    rationale="Because your recurring charges come to about {yearly_recurring_spend} a year, "
    "{subscription_spend_share} of your recent spending, a yearly view can help you choose which to keep.",
    priority="medium",
    tags=("subscriptions", "planning"),
)

RENEWAL_TOOLS = EducationTemplate(
    title="Stay ahead of renewals and free trials",
    content="""Renewals often happen quietly. With {recurring_merchants} recurring charges, a few simple
tools can make sure nothing renews without you noticing. Your next expected charge is {next_renewal}.

- **Add renewal reminders** to your calendar three days before each charge.
- **Turn on spending alerts** in your banking app for charges above an amount you choose.
- **Set a reminder when you start a free trial**, for the day before it converts to a paid plan.
- **Consider a virtual card number** for trials, if your bank offers one, so a forgotten trial cannot
  keep charging you.
- **Keep a simple list** of sign-up emails and cancellation pages, so cancelling takes a minute, not
  an evening.""",
    rationale="Because you have {recurring_merchants} recurring charges, reminders before each renewal can "
    "keep every one of them intentional.",
    priority="low",
    tags=("subscriptions", "tools"),
)

CASH_PURPOSE = EducationTemplate(
    title="Give your cash beyond the emergency fund a purpose",
    content="""Your savings of {total_savings_balance} cover about {emergency_fund_months} months of your
spending, a strong position. A common rule of thumb is to keep 3 to 6 months of expenses as an
easy-to-reach emergency fund; cash beyond that can be given a purpose.

Questions you can explore:

- **How big is your emergency fund?** Six months of your spending is about {six_month_target}.
- **Where does the rest sit?** Interest rates vary widely between account types; high-yield savings
  or certificates of deposit may pay more for money with a known date.
- **What is it for?** Naming goals, such as a home, a sabbatical or retirement, and their timelines
  makes it easier to match each one to the right kind of account.
- **Consider talking it through** with a licensed advisor if your goals are complex.""",
    rationale="Because your savings cover about {emergency_fund_months} months of spending, there is an "
    "opportunity to give any cash beyond your emergency fund a clear purpose.",
    priority="high",
    tags=("savings", "planning"),
    applies=_at_least("emergency_fund_months", 3),
)

DIVERSIFICATION = EducationTemplate(
    title="Diversification and costs: the quiet drivers of long-term growth",
    content="""You already have an investment account, so two ideas are worth knowing well.

- **Diversification** means spreading money across many companies, industries, countries and asset
  types, so no single one can sink your plan.
- **Costs compound.** A fund's yearly fee comes out every year, whatever the market does, and a
  difference of half a percent a year can add up to a large sum over decades.

Steps you can consider:

- Look up the yearly fees on what you hold today.
- Check how your money is split between asset types, and whether that still fits your timeline.
- Explore rebalancing once a year back to the mix you chose.

Your income of about {avg_monthly_income} a month is {monthly_surplus} more than your spending,
which gives you room to decide how much to put toward long-term goals each month.""",
    rationale="Because you earn about {avg_monthly_income} a month, {monthly_surplus} more than you spend, "
    "understanding fees and diversification can help you make the most of what you set aside.",
    priority="medium",
    tags=("investing basics", "fees"),
    applies=_flag("investment_account_detected"),
)

STRONG_CREDIT = EducationTemplate(
    title="Keep your credit working for you",
    content="""Your highest card uses only {max_utilization} of its limit, which lenders read as careful
credit use. Keeping it that way helps when you apply for a mortgage, a car loan or a better card.

Habits that can keep your credit strong:

- **Pay statements in full** so purchases never cost interest.
- **Keep older cards open**, perhaps with a small recurring charge on autopay, since a longer history
  helps.
- **Check your credit reports** from each of the three bureaus once a year; it is free and lets you
  spot errors early.
- **Consider a credit freeze** at the bureaus while you are not applying for credit; it is free and
  blocks most new-account fraud.""",
    rationale="Because your highest card uses only {max_utilization} of its limit, a few simple habits can "
    "keep your credit profile strong.",
    priority="low",
    tags=("credit",),
    applies=_below("max_utilization", 0.30),
)

SPENDING_PICTURE = EducationTemplate(
    title="Know where your money goes",
    content="""Over the last {window_days} days you had {transaction_count} transactions, and your spending
averaged about {avg_monthly_spend} a month. Knowing that number is the foundation of any money plan.

A simple framework you can try is **50/30/20**: about half of take-home pay for needs (housing,
food, transport), 30% for wants, and 20% for savings and paying down balances. It is a starting
point, not a rule.

Steps to get started:

- **Group last month's spending** into needs, wants and savings.
- **Pick one category to watch** for the next month.
- **Schedule a 15-minute money check-in** at the same time each month.
- **Explore your bank's spending categories**, or a simple spreadsheet, to do the sorting for you.""",
    rationale="Because you spend about {avg_monthly_spend} a month across {transaction_count} transactions, "
    "a simple plan can show where each dollar goes.",
    priority="medium",
    tags=("budgeting",),
    applies=_positive("avg_monthly_spend"),
)

STARTER_FUND = EducationTemplate(
    title="Start a starter emergency fund",
    content="""An emergency fund is money set aside for the unexpected: a car repair, a medical bill, a
slow month. Your checking balance covers about {cash_flow_buffer_months} months of your typical
spending of {avg_monthly_spend} a month.

A first goal many people use is one month of expenses, then three. Ways you can get there:

- **Open a separate savings account** so the fund is not mixed with everyday spending.
- **Automate a small transfer on payday**; $25 or $50 is a fine start.
- **Save windfalls.** Consider sending part of any refund, bonus or gift straight to the fund.
- **Track progress in months, not dollars.** Going from half a month to a full month of cushion is a
  real milestone.""",
    rationale="Because your checking balance covers about {cash_flow_buffer_months} months of spending, a "
    "dedicated emergency fund can give you more breathing room.",
    priority="medium",
    tags=("savings", "emergency fund"),
)

CREDIT_BASICS = EducationTemplate(
    title="Credit basics that pay off",
    content="""Your highest credit card is using {max_utilization} of its limit. Two habits shape most of a
credit score: paying on time and keeping balances low compared with limits.

- **Paying on time:** autopay for at least the minimum means a busy week never becomes a late
  payment.
- **Keeping utilization low:** many people aim to use less than 30% of each card's limit. Paying
  before the statement date lowers the balance that gets reported.
- **Paying in full** when you can keeps purchases free of interest.
- **Checking your credit reports** once a year at each bureau is free and helps you catch errors
  early.

You can explore these one at a time; each one helps on its own.""",
    rationale="Because your highest card is at {max_utilization} of its limit, knowing how utilization "
    "works can help you keep your credit score healthy.",
    priority="low",
    tags=("credit",),
)

AUTOMATION = EducationTemplate(
    title="Put good habits on autopilot",
    content="""Automation is one of the simplest ways to make progress without relying on willpower. You had
{transaction_count} transactions in the last {window_days} days; a few automatic rules can quietly
handle the routine ones.

Ideas you can set up in an afternoon:

- **Payday transfer:** a fixed amount moves to savings the day you are paid.
- **Bill autopay:** utilities, phone and card minimums are paid on time, every time.
- **Low-balance alert:** your bank app tells you when checking drops below an amount you choose.
- **Large-purchase alert:** a notification for any charge above a set amount helps you spot mistakes
  or fraud quickly.

Consider starting with just one rule this week and adding another next month.""",
    rationale="Because you had {transaction_count} transactions in the last {window_days} days, a few "
    "automatic rules can handle routine payments and savings for you.",
    priority="low",
    tags=("automation", "habits"),
    applies=_positive("transaction_count"),
)

# Most relevant first; the first 2-3 whose data is present are used.
GENERAL_TEMPLATES = (SPENDING_PICTURE, STARTER_FUND, CREDIT_BASICS, AUTOMATION)
TEMPLATES_BY_PERSONA: dict[str, tuple[EducationTemplate, ...]] = {
    "wealth_builder": (CASH_PURPOSE, DIVERSIFICATION, STRONG_CREDIT, EMERGENCY_FUND_MONTHS),
    "high_utilization": (OVERDUE, UTILIZATION, INTEREST, MINIMUM_PAYMENTS),
    "savings_builder": (EMERGENCY_FUND_MONTHS, AUTOMATE_SAVINGS, SAVINGS_RATE, SAVINGS_GOALS),
    "variable_income": (PAYDAY_BUFFER, BASELINE_BUDGET, STEADY_SALARY),
    "subscription_heavy": (SUBSCRIPTION_AUDIT, SUBSCRIPTION_YEAR, RENEWAL_TOOLS),
    "general_wellness": GENERAL_TEMPLATES,
}

_FORMATTER = string.Formatter()


def _unwrap(markdown: str) -> str:
    """One line per paragraph or list item: the templates are wrapped for reading the source only."""
    lines: list[str] = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if lines and lines[-1] and stripped and not stripped.startswith("- "):
            lines[-1] += " " + stripped
        else:
            lines.append(stripped)
    return "\n".join(lines)


def _field_names(text: str) -> list[str]:
    return [field for _, field, _, _ in _FORMATTER.parse(text) if field]


def fill_template(
    template: EducationTemplate, context: UserContext, values: Mapping[str, Placeholder]
) -> GeneratedItem | None:
    """The item for this user, or None when the template does not apply or any of its data is null."""
    if not template.applies(context.features):
        return None
    texts = (template.title, _unwrap(template.content), template.rationale)
    fields = [field for text in texts for field in _field_names(text)]
    if any(field not in values for field in fields):
        return None
    filled = {field: values[field].text for field in fields}
    title, content, rationale = (text.format_map(filled) for text in texts)
    cited = dict.fromkeys(name for field in fields for name in values[field].cites)  # ordered, unique
    return GeneratedItem(
        title=title,
        content=content,
        rationale=rationale,
        cited_facts=[CitedFact(name=name, value=context.features[name]) for name in cited],
        metadata=ItemMetadata(priority=template.priority, tags=list(template.tags)),
    )


def template_items(context: UserContext) -> list[GeneratedItem]:
    """Up to three items: the persona's templates first, general ones when the persona's data is thin."""
    values = _placeholders(context)
    persona_templates = TEMPLATES_BY_PERSONA.get(context.persona, GENERAL_TEMPLATES)
    candidates = persona_templates + tuple(t for t in GENERAL_TEMPLATES if t not in persona_templates)
    items: list[GeneratedItem] = []
    for template in candidates:
        # General templates only top up a persona that could not fill two of its own.
        if len(items) == MAX_ITEMS or (template not in persona_templates and len(items) >= MIN_ITEMS):
            break
        if (item := fill_template(template, context, values)) is not None:
            items.append(item)
    return items


class TemplateGenerator:
    name = "template"
    model = "template-v1"

    def prompt_version(self, persona: str) -> str:
        return TEMPLATES_VERSION

    def generate(self, context: UserContext) -> GenerationResult:
        items = template_items(context)
        return GenerationResult(
            user_id=context.user_id,
            window_days=context.window_days,
            items=items if len(items) >= MIN_ITEMS else [],
            generator=self.name,
            model=self.model,
            prompt_version=TEMPLATES_VERSION,
            context_hash=context_hash(context),
            error=None
            if len(items) >= MIN_ITEMS
            else f"not enough data for {MIN_ITEMS} template items (found {len(items)})",
        )

    def generate_many(self, contexts: Sequence[UserContext]) -> list[GenerationResult]:
        return [self.generate(context) for context in contexts]
