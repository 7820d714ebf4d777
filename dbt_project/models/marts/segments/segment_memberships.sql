-- One row per customer and segment the customer belongs to.
with

high_value_customers as (

    select * from {{ ref('segment_high_value_customers') }}

),

lapsed_buyers as (

    select * from {{ ref('segment_lapsed_buyers') }}

),

engaged_non_buyers as (

    select * from {{ ref('segment_engaged_non_buyers') }}

),

final as (

    select customer_id, 'high_value_customers' as segment_name
    from high_value_customers
    union all
    select customer_id, 'lapsed_buyers' as segment_name
    from lapsed_buyers
    union all
    select customer_id, 'engaged_non_buyers' as segment_name
    from engaged_non_buyers

)

select * from final
