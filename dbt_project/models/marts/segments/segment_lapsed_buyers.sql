-- Customers who ordered before but whose last order is at least
-- var lapsed_buyer_min_days_since_last_order days before the as-of date.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

members as (

    select * from traits
    where order_count > 0
        and days_since_last_order >= {{ var('lapsed_buyer_min_days_since_last_order') }}

),

final as (

    select
        customers.customer_id,
        customers.has_email_consent,
        customers.is_email_suppressed,
        members.last_order_at,
        members.days_since_last_order,
        members.order_count,
        members.revenue_eur
    from members
    inner join customers
        on members.customer_id = customers.customer_id

)

select * from final
