-- Ordered session funnel per month of session start and channel: visit, product
-- view, add to cart, order. A session reaches a step when it reached the step
-- before and has the step's event at or after that step's first event. The step
-- events are the Segment e-commerce events 'Product Viewed', 'Product Added' and
-- 'Order Completed'.
{%- set step_events = {
    'product_view': 'Product Viewed',
    'cart': 'Product Added',
    'order': 'Order Completed',
} %}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

session_events as (

    select * from {{ ref('fct_session_events') }}

),

step_events as (

    select
        session_id,
        occurred_at,
        case event_name
            {%- for step, event_name in step_events.items() %}
            when '{{ event_name }}' then '{{ step }}'
            {%- endfor %}
        end as funnel_step
    from session_events
    where event_type = 'track'
        and event_name in ('{{ step_events.values() | join("', '") }}')

),

product_views as (

    select
        session_id,
        min(occurred_at) as product_viewed_at
    from step_events
    where funnel_step = 'product_view'
    group by session_id

),

carts as (

    select
        product_views.session_id,
        min(step_events.occurred_at) as cart_added_at
    from product_views
    inner join step_events
        on product_views.session_id = step_events.session_id
        and step_events.funnel_step = 'cart'
        and step_events.occurred_at >= product_views.product_viewed_at
    group by product_views.session_id

),

orders as (

    select
        carts.session_id,
        min(step_events.occurred_at) as order_completed_at
    from carts
    inner join step_events
        on carts.session_id = step_events.session_id
        and step_events.funnel_step = 'order'
        and step_events.occurred_at >= carts.cart_added_at
    group by carts.session_id

),

session_steps as (

    select
        cast({{ dbt.date_trunc('month', 'sessions.started_at') }} as date)
            as month_start_date,
        sessions.channel,
        product_views.session_id is not null as has_product_view,
        carts.session_id is not null as has_cart,
        orders.session_id is not null as has_order
    from sessions
    left join product_views
        on sessions.session_id = product_views.session_id
    left join carts
        on sessions.session_id = carts.session_id
    left join orders
        on sessions.session_id = orders.session_id

),

counts as (

    select
        month_start_date,
        channel,
        count(*) as session_count,
        {{ cdp.count_if("has_product_view") }} as product_view_session_count,
        {{ cdp.count_if("has_cart") }} as cart_session_count,
        {{ cdp.count_if("has_order") }} as order_session_count
    from session_steps
    group by month_start_date, channel

),

final as (

    select
        month_start_date,
        channel,
        session_count,
        product_view_session_count,
        cart_session_count,
        order_session_count,
        {{ cdp.safe_ratio('product_view_session_count', 'session_count') }}
            as product_view_rate,
        {{ cdp.safe_ratio('cart_session_count', 'product_view_session_count') }}
            as cart_rate,
        {{ cdp.safe_ratio('order_session_count', 'cart_session_count') }}
            as order_rate,
        {{ cdp.safe_ratio('order_session_count', 'session_count') }}
            as session_conversion_rate
    from counts

)

select * from final
