{#
    Quintile score from 1 to 5 of the current row among all rows of the query,
    ordered by order_by (lowest first, so the highest value scores 5). Rows with
    equal values share a score because rank() gives them the same rank.
#}
{% macro quintile_score(order_by) -%}
    cast(
        1 + floor(5.0 * (rank() over (order by {{ order_by }}) - 1) / count(*) over ())
        as integer
    )
{%- endmacro %}

{#
    Named RFM group from the recency and frequency scores (1 to 5). The cases
    partition the 5 x 5 grid, and the first match wins:

        F \ R      1               2             3                 4, 5
        4, 5   cant_lose_them   at_risk       loyal_customers   champions
        3      at_risk          at_risk       loyal_customers   loyal_customers
        2      lost             hibernating   potential_loyalists potential_loyalists
        1      lost             hibernating   potential_loyalists new_customers
#}
{% macro rfm_group(recency_score, frequency_score) -%}
    case
        when {{ recency_score }} >= 4 and {{ frequency_score }} >= 4 then 'champions'
        when {{ recency_score }} >= 3 and {{ frequency_score }} >= 3 then 'loyal_customers'
        when {{ recency_score }} >= 4 and {{ frequency_score }} = 1 then 'new_customers'
        when {{ recency_score }} >= 3 then 'potential_loyalists'
        when {{ recency_score }} = 1 and {{ frequency_score }} >= 4 then 'cant_lose_them'
        when {{ frequency_score }} >= 3 then 'at_risk'
        when {{ recency_score }} = 2 then 'hibernating'
        else 'lost'
    end
{%- endmacro %}

{# Number of rows in the group where condition is true (portable count_if). #}
{% macro count_if(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}

{# numerator / denominator as a double, null when the denominator is 0 or null.
   Not dbt.type_float(), which is a 4-byte float on DuckDB and a double on Spark. #}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as double)
        / nullif({{ denominator }}, 0)
{%- endmacro %}

{#
    Churn risk of a buyer. For a repeat buyer with a CLV prediction, the BG/NBD
    probability of being alive is below var churn_risk_max_p_alive. Otherwise the
    last order is at least var lapsed_buyer_min_days_since_last_order days old,
    because BG/NBD gives every buyer without a repeat purchase p_alive = 1. Null
    for customers without orders, who have nothing to churn from.
#}
{% macro churn_risk(p_alive, repeat_purchase_count, days_since_last_order) -%}
    case
        when {{ days_since_last_order }} is null then null
        when {{ p_alive }} is not null and {{ repeat_purchase_count }} > 0
            then {{ p_alive }} < {{ var('churn_risk_max_p_alive', 0.5) }}
        else {{ days_since_last_order }}
            >= {{ var('lapsed_buyer_min_days_since_last_order') }}
    end
{%- endmacro %}
