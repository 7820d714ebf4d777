-- First-touch and last-touch attribution of each order: one row per order and
-- attribution model, for orders with at least one touch of their customer in the
-- lookback window. A touch is a web session start or an email click. It counts
-- when it happened at or before the order and at most
-- var('attribution_lookback_days') days (default 30) before it.
{%- set lookback_days = var('attribution_lookback_days', 30) %}

with

orders as (

    select * from {{ ref('fct_orders') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

touches as (

    select
        'web_session' as touch_type,
        session_id as touch_id,
        customer_id,
        started_at as touched_at,
        channel,
        utm_source as campaign_source,
        utm_campaign as campaign_name,
        cast(null as {{ dbt.type_string() }}) as email_campaign_id
    from sessions
    where customer_id is not null

    union all

    select
        'email_click' as touch_type,
        email_activity_id as touch_id,
        customer_id,
        occurred_at as touched_at,
        'email' as channel,
        'email' as campaign_source,
        campaign_name,
        campaign_id as email_campaign_id
    from email_activities
    where activity_type = 'clicked'
        and customer_id is not null

),

order_touches as (

    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.total_eur,
        orders.is_refunded_or_voided,
        touches.touch_type,
        touches.touch_id,
        touches.touched_at,
        touches.channel,
        touches.campaign_source,
        touches.campaign_name,
        touches.email_campaign_id
    from orders
    inner join touches
        on orders.customer_id = touches.customer_id
        and touches.touched_at <= orders.ordered_at
        and touches.touched_at >= {{ dbt.dateadd(
            'day', -lookback_days, 'orders.ordered_at'
        ) }}

),

-- Ties at the same instant go to the web session, then to the lower touch id,
-- so each rule picks exactly one touch.
ranked as (

    select
        *,
        row_number() over (
            partition by order_id
            order by touched_at, touch_type desc, touch_id
        ) as first_touch_rank,
        row_number() over (
            partition by order_id
            order by touched_at desc, touch_type desc, touch_id
        ) as last_touch_rank,
        count(*) over (partition by order_id) as touch_count
    from order_touches

),

picked as (

    select 'first_touch' as attribution_model, * from ranked where first_touch_rank = 1
    union all
    select 'last_touch' as attribution_model, * from ranked where last_touch_rank = 1

),

final as (

    select
        {{ cdp.surrogate_key(['order_id', 'attribution_model']) }} as order_attribution_id,
        order_id,
        attribution_model,
        customer_id,
        ordered_at,
        touch_type,
        touch_id,
        touched_at,
        channel,
        campaign_source,
        campaign_name,
        email_campaign_id,
        touch_count,
        case when is_refunded_or_voided then 0 else total_eur end
            as attributed_revenue_eur
    from picked

)

select * from final
