-- Customers whose revenue reaches var high_value_min_revenue_eur (EUR, refunded and
-- voided orders excluded).
with

customers as (

    select * from {{ ref('dim_customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

members as (

    select * from traits
    where revenue_eur >= {{ var('high_value_min_revenue_eur') }}

),

final as (

    select
        customers.customer_id,
        customers.has_email_consent,
        customers.is_email_suppressed,
        members.revenue_eur,
        members.order_count,
        members.average_order_value_eur,
        members.last_order_at
    from members
    inner join customers
        on members.customer_id = customers.customer_id

)

select * from final
