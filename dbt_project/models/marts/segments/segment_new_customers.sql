-- Customers whose first order is at most var new_customer_max_days_since_first_order
-- days before the as-of date. Refunded and voided orders do not count.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

buyers as (

    select
        *,
        {{ dbt.datediff('first_order_at', 'as_of_at', 'day') }} as days_since_first_order
    from traits
    where first_order_at is not null

),

final as (

    select
        customer_id,
        has_email_consent,
        is_email_suppressed,
        first_order_at,
        days_since_first_order,
        order_count,
        revenue_eur
    from buyers
    where days_since_first_order <= {{ var('new_customer_max_days_since_first_order') }}

)

select * from final
