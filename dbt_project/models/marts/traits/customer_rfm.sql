-- One row per customer with at least one order up to as_of_at that was not refunded
-- or voided: order totals, RFM scores and the named RFM group.
--
-- Each score is the customer's quintile among these buyers, 1 (worst) to 5 (best):
-- recency scores 5 for the most recent last order, frequency for the most orders
-- and monetary for the highest revenue. Scores come from rank(), not ntile(),
-- because ntile() splits a tie (all one-order buyers, say) across quintiles in
-- arbitrary order. With rank(), customers with equal values share a score.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

run_context as (

    select * from {{ ref('int_run_context') }}

),

order_stats as (

    select
        orders.customer_id,
        count(*) as order_count,
        cast(sum(orders.total_eur) as decimal(38, 2)) as revenue_eur,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at,
        max(run_context.as_of_at) as as_of_at
    from orders
    cross join run_context
    where not orders.is_refunded_or_voided
        and orders.ordered_at <= run_context.as_of_at
        and orders.customer_id is not null
    group by orders.customer_id

),

with_recency as (

    select
        *,
        {{ dbt.datediff('last_order_at', 'as_of_at', 'day') }} as days_since_last_order
    from order_stats

),

scored as (

    select
        *,
        {{ cdp.quintile_score('days_since_last_order desc') }} as recency_score,
        {{ cdp.quintile_score('order_count') }} as frequency_score,
        {{ cdp.quintile_score('revenue_eur') }} as monetary_score
    from with_recency

),

final as (

    select
        customer_id,
        order_count,
        revenue_eur,
        -- Divided as doubles, as DuckDB divides decimals; Spark's decimal division
        -- rounds half cents differently.
        {{ cdp.double_to_decimal('cast(revenue_eur as double) / order_count', 18, 2) }}
            as average_order_value_eur,
        first_order_at,
        last_order_at,
        days_since_last_order,
        recency_score,
        frequency_score,
        monetary_score,
        {{ dbt.concat([
            dbt.cast('recency_score', dbt.type_string()),
            dbt.cast('frequency_score', dbt.type_string()),
            dbt.cast('monetary_score', dbt.type_string()),
        ]) }} as rfm_score,
        {{ cdp.rfm_group('recency_score', 'frequency_score') }} as rfm_group
    from scored

)

select * from final
