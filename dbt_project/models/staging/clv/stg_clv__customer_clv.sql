{#
    Predicted lifetime value per customer from the customer_clv step. A plain
    `dbt build` runs before that step has ever written its table, so when the table
    is missing this model is empty and the CLV traits stay null.
#}
{%- set clv_source = source('clv', 'customer_clv') -%}
{%- set clv_relation = load_relation(clv_source) if execute else clv_source -%}

with

{% if clv_relation is not none %}

source as (

    select * from {{ clv_source }}

),

{% else %}

source as (

    select
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_int() }}) as frequency,
        cast(null as double) as p_alive,
        cast(null as double) as expected_purchases_90d,
        cast(null as double) as predicted_clv_12m_eur,
        cast(null as {{ dbt.type_timestamp() }}) as as_of_at
    where 1 = 0

),

{% endif %}

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(frequency as {{ dbt.type_int() }}) as repeat_purchase_count,
        cast(p_alive as double) as p_alive,
        cast(expected_purchases_90d as double) as expected_purchases_90d,
        cast(predicted_clv_12m_eur as double) as predicted_clv_12m_eur,
        cast(as_of_at as {{ dbt.type_timestamp() }}) as clv_as_of_at
    from source

)

select * from final
