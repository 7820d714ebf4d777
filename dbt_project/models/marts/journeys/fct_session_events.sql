-- One row per page, screen or track event with the visitor session it belongs to.
-- A visitor is a device (anonymous id). A session ends once
-- var('session_inactivity_minutes') minutes (default 30) pass without an event of
-- the visitor, and does not end at midnight. Identify, group and alias calls are
-- not visitor activity and are left out.
{%- set inactivity_minutes = var('session_inactivity_minutes', 30) %}
-- Incremental: a visitor's sessions are recomputed from all the visitor's events
-- when one of them changed in fct_events.
{#- dbt-spark has no delete+insert strategy: the Spark target rebuilds the table. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    unique_key='visitor_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[] if target.type == 'spark' else "{{ cdp.delete_rows_missing_from(ref('fct_events'), 'event_id') }}",
) }}

with

{% if is_incremental() %}
-- Visitors of the events fct_events wrote since this model last ran, and the
-- visitor an event had before, in case the event moved to another visitor.
changed_visitors as (

    select coalesce(
        anonymous_id, {{ dbt.concat(["'user:'", 'user_id']) }}
    ) as visitor_id
    from {{ ref('fct_events') }}
    where _processed_at > {{ cdp.incremental_watermark() }}
    union
    select previous.visitor_id
    from {{ this }} as previous
    inner join {{ ref('fct_events') }} as changed_events
        on previous.event_id = changed_events.event_id
    where changed_events._processed_at > {{ cdp.incremental_watermark() }}

),

{% endif %}
events as (

    select * from {{ ref('fct_events') }}
    {% if is_incremental() %}
    where coalesce(anonymous_id, {{ dbt.concat(["'user:'", 'user_id']) }})
        in (select visitor_id from changed_visitors)
    {% endif %}

),

web_events as (

    select * from {{ ref('stg_web__events') }}

),

activity as (

    select
        events.event_id,
        coalesce(
            events.anonymous_id,
            {{ dbt.concat(["'user:'", 'events.user_id']) }}
        ) as visitor_id,
        events.anonymous_id,
        events.user_id,
        events.customer_id as event_customer_id,
        events.event_type,
        events.event_name,
        events.occurred_at,
        coalesce(
            {{ cdp.json_text('web_events.context_json', 'page.path') }},
            {{ cdp.json_text('web_events.properties_json', 'path') }}
        ) as page_path,
        events.page_url,
        lower(coalesce(
            {{ cdp.json_text('web_events.context_json', 'page.referrer') }},
            {{ cdp.json_text('web_events.properties_json', 'referrer') }}
        )) as referrer,
        -- analytics.js copies the utm_ query parameters into context.campaign.
        -- The page URL is the fallback for libraries that do not.
        lower(coalesce(
            {{ cdp.json_text('web_events.context_json', 'campaign.source') }},
            {{ cdp.url_query_parameter('events.page_url', 'utm_source') }}
        )) as utm_source,
        lower(coalesce(
            {{ cdp.json_text('web_events.context_json', 'campaign.medium') }},
            {{ cdp.url_query_parameter('events.page_url', 'utm_medium') }}
        )) as utm_medium,
        lower(coalesce(
            {{ cdp.json_text('web_events.context_json', 'campaign.name') }},
            {{ cdp.url_query_parameter('events.page_url', 'utm_campaign') }}
        )) as utm_campaign,
        {{ cdp.json_text('web_events.properties_json', 'sku') }} as product_sku
    from events
    left join web_events
        on events.event_id = web_events.event_id
    where events.event_type in ('page', 'screen', 'track')
        and events.occurred_at is not null

),

with_previous as (

    select
        *,
        lag(occurred_at) over (
            partition by visitor_id order by occurred_at, event_id
        ) as previous_occurred_at
    from activity

),

-- A gap of exactly the inactivity limit starts a new session. With the default of
-- 30 minutes, an event 29:59 after the previous one continues the session and an
-- event 30:00 after it starts a new one.
session_starts as (

    select
        *,
        case
            when previous_occurred_at is null then 1
            when occurred_at >= {{ dbt.dateadd(
                'minute', inactivity_minutes, 'previous_occurred_at'
            ) }} then 1
            else 0
        end as is_session_start
    from with_previous

),

numbered as (

    select
        *,
        cast(sum(is_session_start) over (
            partition by visitor_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as session_number
    from session_starts

),

session_bounds as (

    select
        *,
        min(occurred_at) over (
            partition by visitor_id, session_number
        ) as session_started_at,
        cast(row_number() over (
            partition by visitor_id, session_number order by occurred_at, event_id
        ) as {{ dbt.type_bigint() }}) as event_number
    from numbered

),

-- The customer a visitor's events resolve to, taken from the newest event that
-- has one, so sessions before a login get the customer too.
visitor_customers as (

    select
        visitor_id,
        {{ cdp.max_by_non_null('event_customer_id', 'occurred_at') }} as customer_id
    from activity
    group by visitor_id

),

final as (

    select
        session_bounds.event_id,
        {{ cdp.surrogate_key(['session_bounds.visitor_id', 'session_bounds.session_started_at']) }}
            as session_id,
        session_bounds.visitor_id,
        session_bounds.session_number,
        session_bounds.event_number,
        coalesce(session_bounds.event_customer_id, visitor_customers.customer_id)
            as customer_id,
        session_bounds.event_customer_id,
        session_bounds.anonymous_id,
        session_bounds.user_id,
        session_bounds.event_type,
        session_bounds.event_name,
        session_bounds.occurred_at,
        session_bounds.session_started_at,
        session_bounds.page_path,
        session_bounds.page_url,
        session_bounds.referrer,
        session_bounds.utm_source,
        session_bounds.utm_medium,
        session_bounds.utm_campaign,
        session_bounds.product_sku,
        {{ cdp.processed_at() }} as _processed_at
    from session_bounds
    left join visitor_customers
        on session_bounds.visitor_id = visitor_customers.visitor_id

)

select * from final
