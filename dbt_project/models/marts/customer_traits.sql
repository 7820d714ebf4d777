-- One row per known customer with behavioural traits as of int_run_context.as_of_at.
-- Only activity up to that instant counts, and the 90-day counts cover the 90 days
-- before it. Revenue excludes refunded and voided orders.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

events as (

    select * from {{ ref('fct_events') }}

),

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

tickets as (

    select * from {{ ref('fct_support_tickets') }}

),

run_context as (

    select * from {{ ref('int_run_context') }}

),

order_stats as (

    select
        orders.customer_id,
        count(*) as order_count,
        sum(orders.total_eur) as revenue_eur,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at
    from orders
    cross join run_context
    where not orders.is_refunded_or_voided
        and orders.ordered_at <= run_context.as_of_at
    group by orders.customer_id

),

email_stats as (

    select
        email_activities.customer_id,
        {% for activity_type, column in [
            ('opened', 'email_opens_90d'),
            ('clicked', 'email_clicks_90d'),
            ('sent', 'emails_sent_90d'),
        ] %}
        sum(case when email_activities.activity_type = '{{ activity_type }}' then 1 else 0 end)
            as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from email_activities
    cross join run_context
    where email_activities.occurred_at <= run_context.as_of_at
        and email_activities.occurred_at
            > {{ dbt.dateadd('day', -90, 'run_context.as_of_at') }}
    group by email_activities.customer_id

),

ticket_stats as (

    select
        tickets.customer_id,
        count(*) as ticket_count
    from tickets
    cross join run_context
    where tickets.created_at <= run_context.as_of_at
    group by tickets.customer_id

),

-- Activity that shows the person was there: events, orders, opens and clicks,
-- and tickets. Sends do not count.
activity as (

    select customer_id, occurred_at as active_at from events
    union all
    select customer_id, ordered_at from orders
    union all
    select customer_id, occurred_at from email_activities
    where activity_type in ('opened', 'clicked')
    union all
    select customer_id, created_at from tickets

),

last_activity as (

    select
        activity.customer_id,
        max(activity.active_at) as last_seen_at
    from activity
    cross join run_context
    where activity.active_at <= run_context.as_of_at
    group by activity.customer_id

),

final as (

    select
        customers.customer_id,
        run_context.as_of_at,
        coalesce(order_stats.order_count, 0) as order_count,
        coalesce(order_stats.revenue_eur, 0) as revenue_eur,
        cast(order_stats.revenue_eur / order_stats.order_count as decimal(18, 2))
            as average_order_value_eur,
        order_stats.first_order_at,
        order_stats.last_order_at,
        {{ dbt.datediff('order_stats.last_order_at', 'run_context.as_of_at', 'day') }}
            as days_since_last_order,
        last_activity.last_seen_at,
        coalesce(email_stats.email_opens_90d, 0) as email_opens_90d,
        coalesce(email_stats.email_clicks_90d, 0) as email_clicks_90d,
        coalesce(email_stats.emails_sent_90d, 0) as emails_sent_90d,
        coalesce(ticket_stats.ticket_count, 0) as ticket_count,
        customers.has_email_consent,
        customers.is_email_suppressed
    from customers
    cross join run_context
    left join order_stats
        on customers.customer_id = order_stats.customer_id
    left join email_stats
        on customers.customer_id = email_stats.customer_id
    left join ticket_stats
        on customers.customer_id = ticket_stats.customer_id
    left join last_activity
        on customers.customer_id = last_activity.customer_id

)

select * from final
