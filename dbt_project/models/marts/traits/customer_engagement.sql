-- One row per customer with any email open or click, web or app event, order or
-- ticket up to as_of_at: email engagement, web sessions and the preferred channel.
-- A session starts at a customer's first event and after every gap of at least
-- var('session_inactivity_minutes') minutes (default 30) between two of their
-- events, the same limit as fct_session_events.
{%- set inactivity_minutes = var('session_inactivity_minutes', 30) %}

with

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

events as (

    select * from {{ ref('fct_events') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

tickets as (

    select * from {{ ref('fct_support_tickets') }}

),

run_context as (

    select * from {{ ref('int_run_context') }}

),

-- Touchpoints the customer made: sends, bounces and the like are not theirs.
touchpoints as (

    select customer_id, 'email' as channel, activity_type, occurred_at as touched_at
    from email_activities
    where activity_type in ('opened', 'clicked')
    union all
    select customer_id, 'web', event_type, occurred_at from events
    union all
    select customer_id, 'shop', 'order', ordered_at from orders
    union all
    select customer_id, 'support', 'ticket', created_at from tickets

),

windowed as (

    select
        touchpoints.*,
        touchpoints.touched_at
            > {{ dbt.dateadd('day', -30, 'run_context.as_of_at') }} as is_in_30d,
        touchpoints.touched_at
            > {{ dbt.dateadd('day', -90, 'run_context.as_of_at') }} as is_in_90d
    from touchpoints
    cross join run_context
    where touchpoints.customer_id is not null
        and touchpoints.touched_at <= run_context.as_of_at

),

web_gaps as (

    select
        customer_id,
        touched_at,
        is_in_30d,
        is_in_90d,
        lag(touched_at) over (partition by customer_id order by touched_at)
            as previous_touched_at
    from windowed
    where channel = 'web'

),

session_starts as (

    select *
    from web_gaps
    where previous_touched_at is null
        or touched_at >= {{ dbt.dateadd(
            'minute', inactivity_minutes, 'previous_touched_at'
        ) }}

),

web_stats as (

    select
        customer_id,
        {{ cdp.count_if('is_in_30d') }} as web_sessions_30d,
        {{ cdp.count_if('is_in_90d') }} as web_sessions_90d
    from session_starts
    group by customer_id

),

channel_counts as (

    select
        customer_id,
        channel,
        count(*) as touchpoint_count
    from windowed
    where is_in_90d
    group by customer_id, channel

),

-- Ties go to the channel listed first: shop, web, email, support.
preferred_channels as (

    select
        customer_id,
        channel as preferred_channel,
        row_number() over (
            partition by customer_id
            order by
                touchpoint_count desc,
                case channel
                    when 'shop' then 1 when 'web' then 2 when 'email' then 3 else 4
                end
        ) as channel_rank
    from channel_counts

),

customer_stats as (

    select
        customer_id,
        {{ cdp.count_if("activity_type = 'opened' and is_in_30d") }} as email_opens_30d,
        {{ cdp.count_if("activity_type = 'opened' and is_in_90d") }} as email_opens_90d,
        {{ cdp.count_if("activity_type = 'clicked' and is_in_30d") }} as email_clicks_30d,
        {{ cdp.count_if("activity_type = 'clicked' and is_in_90d") }} as email_clicks_90d,
        max(case when channel = 'web' then touched_at end) as last_web_event_at,
        max(touched_at) as last_seen_at
    from windowed
    group by customer_id

),

final as (

    select
        customer_stats.*,
        coalesce(web_stats.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(web_stats.web_sessions_90d, 0) as web_sessions_90d,
        preferred_channels.preferred_channel
    from customer_stats
    left join web_stats
        on customer_stats.customer_id = web_stats.customer_id
    left join preferred_channels
        on customer_stats.customer_id = preferred_channels.customer_id
            and preferred_channels.channel_rank = 1

)

select * from final
