-- Management KPIs per calendar month (UTC): revenue, orders, buying customers
-- split into new and returning, active customers and web sessions. Orders
-- refunded or voided count nowhere here.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

timeline as (

    select * from {{ ref('customer_timeline') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

revenue_orders as (

    select
        order_id,
        customer_id,
        total_eur,
        ordered_at,
        cast({{ dbt.date_trunc('month', 'ordered_at') }} as date) as month_start_date
    from orders
    where not is_refunded_or_voided
        and ordered_at is not null

),

first_orders as (

    select
        customer_id,
        min(month_start_date) as first_order_month_start_date
    from revenue_orders
    group by customer_id

),

customer_months as (

    select
        revenue_orders.month_start_date,
        revenue_orders.customer_id,
        sum(revenue_orders.total_eur) as revenue_eur,
        count(*) as order_count,
        min(first_orders.first_order_month_start_date)
            = revenue_orders.month_start_date as is_new_customer
    from revenue_orders
    inner join first_orders
        on revenue_orders.customer_id = first_orders.customer_id
    group by revenue_orders.month_start_date, revenue_orders.customer_id

),

order_kpis as (

    select
        month_start_date,
        cast(sum(revenue_eur) as decimal(38, 2)) as revenue_eur,
        cast(sum(order_count) as {{ dbt.type_bigint() }}) as order_count,
        count(*) as buying_customers,
        {{ cdp.count_if("is_new_customer") }} as new_customers,
        {{ cdp.count_if("not coalesce(is_new_customer, false)") }}
            as returning_customers,
        cast(sum(case when is_new_customer then revenue_eur else 0 end) as decimal(38, 2))
            as new_customer_revenue_eur,
        cast(sum(case when is_new_customer then 0 else revenue_eur end) as decimal(38, 2))
            as returning_customer_revenue_eur
    from customer_months
    group by month_start_date

),

-- Active means a touchpoint that is the customer's own action, so sends,
-- bounces, complaints, other email activities and CRM creation do not count.
activity_kpis as (

    select
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as month_start_date,
        count(distinct customer_id) as active_customers
    from timeline
    where touchpoint_type not in (
        'email_sent', 'email_soft_bounced', 'email_hard_bounced', 'email_complained',
        'email_other', 'crm_contact_created'
    )
    group by 1

),

session_kpis as (

    select
        cast({{ dbt.date_trunc('month', 'started_at') }} as date) as month_start_date,
        count(*) as session_count,
        count(distinct visitor_id) as visitor_count
    from sessions
    group by 1

),

months as (

    select month_start_date from order_kpis
    union
    select month_start_date from activity_kpis
    union
    select month_start_date from session_kpis

),

final as (

    select
        months.month_start_date,
        coalesce(order_kpis.revenue_eur, 0) as revenue_eur,
        coalesce(order_kpis.order_count, 0) as order_count,
        {{ cdp.safe_ratio('order_kpis.revenue_eur', 'order_kpis.order_count') }}
            as average_order_value_eur,
        coalesce(activity_kpis.active_customers, 0) as active_customers,
        coalesce(order_kpis.buying_customers, 0) as buying_customers,
        coalesce(order_kpis.new_customers, 0) as new_customers,
        coalesce(order_kpis.returning_customers, 0) as returning_customers,
        coalesce(order_kpis.new_customer_revenue_eur, 0) as new_customer_revenue_eur,
        coalesce(order_kpis.returning_customer_revenue_eur, 0)
            as returning_customer_revenue_eur,
        coalesce(session_kpis.session_count, 0) as session_count,
        coalesce(session_kpis.visitor_count, 0) as visitor_count
    from months
    left join order_kpis
        on months.month_start_date = order_kpis.month_start_date
    left join activity_kpis
        on months.month_start_date = activity_kpis.month_start_date
    left join session_kpis
        on months.month_start_date = session_kpis.month_start_date

)

select * from final
