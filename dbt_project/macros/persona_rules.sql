{#- docs/features.md persona rules as data, thresholds from vars (dbt_project.yml): a list of
    {persona, groups} in no meaningful order, each group a list of criteria {name, feature, value,
    operator, threshold, is_flag}. A persona matches when every group holds; a group holds when
    any of its criteria does (AND of ORs). `value` is the SQL the criterion reads from
    user_features: a customer without a credit card reads as utilisation 0 (nothing borrowed), so
    "every card < 0.30" holds for them while "max utilisation >= 0.50" never does.
    Only the criteria live here, keyed by persona name: the priority order and the fallback for
    "no rule matched" come from the registry seed (seeds/personas.csv), whose target personas must
    be exactly these (tests/assert_persona_rules_match_registry.sql). -#}
{% macro persona_rules() -%}
    {%- set fee_window = var('persona_wealth_builder_fee_free_window_days') -%}
    {%- set rules = {
        'wealth_builder': [
            [('avg_monthly_income', 'avg_monthly_income', '>', var('persona_wealth_builder_min_monthly_income'))],
            [('total_savings_balance', 'total_savings_balance', '>', var('persona_wealth_builder_min_savings_balance'))],
            [('max_utilization', 'coalesce(max_utilization, 0)', '<=', var('persona_wealth_builder_max_utilization'))],
            [('overdraft_or_late_fee_present_' ~ fee_window ~ 'd', 'has_fee_in_fee_free_window', '=', false)],
            [('investment_account_detected', 'investment_account_detected', '=', true)],
        ],
        'high_utilization': [
            [
                ('max_utilization', 'max_utilization', '>=', var('persona_high_utilization_min_utilization')),
                ('interest_charges_present', 'interest_charges_present', '=', true),
                ('minimum_payment_only_flag', 'minimum_payment_only_flag', '=', true),
                ('any_overdue', 'any_overdue', '=', true),
            ],
        ],
        'savings_builder': [
            [
                ('savings_growth_rate', 'savings_growth_rate', '>=', var('persona_savings_builder_min_growth_rate')),
                ('net_savings_inflow', 'net_savings_inflow', '>=', var('persona_savings_builder_min_net_inflow')),
            ],
            [('max_utilization', 'coalesce(max_utilization, 0)', '<', var('persona_savings_builder_max_utilization'))],
        ],
        'variable_income': [
            [('median_pay_gap_days', 'median_pay_gap_days', '>', var('persona_variable_income_min_median_pay_gap_days'))],
            [('cash_flow_buffer_months', 'cash_flow_buffer_months', '<', var('persona_variable_income_max_buffer_months'))],
        ],
        'subscription_heavy': [
            [('recurring_merchants', 'recurring_merchants', '>=', var('persona_subscription_heavy_min_recurring_merchants'))],
            [
                ('monthly_recurring_spend', 'monthly_recurring_spend', '>=', var('persona_subscription_heavy_min_monthly_recurring_spend')),
                ('subscription_spend_share', 'subscription_spend_share', '>=', var('persona_subscription_heavy_min_spend_share')),
            ],
        ],
    } -%}
    {%- set personas = [] -%}
    {%- for persona, groups in rules.items() -%}
        {%- set criterion_groups = [] -%}
        {%- for group in groups -%}
            {%- set group_number = loop.index -%}
            {%- set criteria = [] -%}
            {%- for feature, value, operator, threshold in group -%}
                {%- do criteria.append({
                    'name': persona ~ '_' ~ group_number ~ '_' ~ loop.index,
                    'feature': feature,
                    'value': value,
                    'operator': operator,
                    'threshold': threshold,
                    'is_flag': threshold is sameas true or threshold is sameas false,
                }) -%}
            {%- endfor -%}
            {%- do criterion_groups.append(criteria) -%}
        {%- endfor -%}
        {%- do personas.append({'persona': persona, 'groups': criterion_groups}) -%}
    {%- endfor -%}
    {%- do return(personas) -%}
{%- endmacro %}
