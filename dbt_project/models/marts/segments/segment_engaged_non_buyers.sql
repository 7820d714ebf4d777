-- Customers who opened or clicked an email in the 90 days before the as-of date
-- and have never placed an order that counts as revenue.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

members as (

    select * from traits
    where order_count = 0
        and (email_opens_90d > 0 or email_clicks_90d > 0)

),

final as (

    select
        customers.customer_id,
        customers.has_email_consent,
        customers.is_email_suppressed,
        members.email_opens_90d,
        members.email_clicks_90d,
        members.last_seen_at
    from members
    inner join customers
        on members.customer_id = customers.customer_id

)

select * from final
