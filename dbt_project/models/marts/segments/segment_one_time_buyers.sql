-- Customers with exactly one order, placed at least
-- var one_time_buyer_min_days_since_order days before the as-of date and less than
-- var lapsed_buyer_min_days_since_last_order days before it. They are the audience
-- for a second-order offer. Refunded and voided orders do not count.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

final as (

    select
        customer_id,
        has_email_consent,
        is_email_suppressed,
        order_count,
        last_order_at,
        days_since_last_order,
        revenue_eur
    from traits
    where order_count = 1
        and days_since_last_order >= {{ var('one_time_buyer_min_days_since_order') }}
        and days_since_last_order < {{ var('lapsed_buyer_min_days_since_last_order') }}

)

select * from final
