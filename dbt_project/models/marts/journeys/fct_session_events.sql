-- One row per page, screen or track event with the visitor session it belongs to.
-- A visitor is a device (anonymous id). A session ends once
-- var('session_inactivity_minutes') minutes (default 30) pass without an event of
-- the visitor, and does not end at midnight. Identify, group and alias calls are
-- not visitor activity and are left out.
{%- set inactivity_minutes = var('session_inactivity_minutes', 30) %}
-- Incremental: a visitor's sessions are recomputed from all the visitor's events
-- when one of them changed in fct_events.
-- An event moves to another visitor when a delivery from another device of the
-- same user arrives with an earlier receivedAt. The post-hooks delete the rows of
-- events gone from fct_events, and the older row of an event written again. That
-- row stays behind when its old visitor has no session event left.
{{ cdp.incremental_config(
    unique_key='visitor_id',
    post_hook=[
        "{{ cdp.delete_rows_missing_from(ref('fct_events'), 'event_id') }}",
        "{{ cdp.delete_rows_written_again('event_id') }}",
    ],
) }}

with

{% if is_incremental() %}
-- Events fct_events wrote since this model last ran.
changed_events as (

    select
        event_id,
        coalesce(
            anonymous_id, {{ dbt.concat(["'user:'", 'user_id']) }}
        ) as visitor_id
    from {{ ref('fct_events') }}
    where _processed_at > {{ cdp.incremental_watermark() }}

),

-- Visitors of the changed events, and the visitor an event had before, in case
-- the event moved to another visitor.
changed_visitors as (

    select visitor_id from changed_events
    union
    select previous.visitor_id
    from {{ this }} as previous
    where previous.event_id in (select event_id from changed_events)

),

-- Every event of a changed visitor. The visitor is matched on the anonymous id,
-- or on the user id of an event without one, so DuckDB filters fct_events on
-- its stored columns and never computes the visitor id of every event.
changed_visitor_events as (

    select * from {{ ref('fct_events') }}
    where anonymous_id in (select visitor_id from changed_visitors)
    union all
    select * from {{ ref('fct_events') }}
    where anonymous_id is null
        and user_id in (
            select substr(visitor_id, 6)
            from changed_visitors
            where visitor_id like 'user:%'
        )

),

-- The page fields this model stored for events of the changed visitors, where
-- the event still belongs to the same visitor and its stg_web__events row has
-- not changed since this model last ran. Only new and changed deliveries have
-- their JSON parsed again. An event that moved to another visitor changed, so
-- its previous visitor is a changed visitor too.
-- NOTE: a delivery counts as unchanged when its _processed_at is not after this
-- model's watermark. That holds when dbt builds fct_events before this model in
-- the same invocation, as dbt build does, and skips this model when fct_events
-- fails. A run of this model alone after fct_events failed can keep stale page
-- fields until a full refresh.
reused_page_fields as (

    select
        previous.event_id,
        previous.page_path,
        previous.referrer,
        previous.utm_source,
        previous.utm_medium,
        previous.utm_campaign,
        previous.product_sku
    from {{ this }} as previous
    inner join changed_visitor_events as current_events
        on previous.event_id = current_events.event_id
        and previous.visitor_id = coalesce(
            current_events.anonymous_id,
            {{ dbt.concat(["'user:'", 'current_events.user_id']) }}
        )
    where previous.visitor_id in (select visitor_id from changed_visitors)
        and not exists (
            select 1
            from {{ ref('stg_web__events') }} as changed_deliveries
            where changed_deliveries.event_id = previous.event_id
                and changed_deliveries._processed_at > {{ cdp.incremental_watermark() }}
        )

),

{% endif %}
{#- The events this run reads: all of them, or every event of a changed visitor. -#}
{%- set events_read = (
    'changed_visitor_events' if is_incremental() else ref('fct_events')
) %}
-- The sessions are found on narrow rows, so the sorts of the windows below do not
-- carry the page fields. Those are joined to the result by event_id.
visits as (

    select
        event_id,
        coalesce(
            anonymous_id,
            {{ dbt.concat(["'user:'", 'user_id']) }}
        ) as visitor_id,
        customer_id,
        occurred_at
    from {{ events_read }}
    where event_type in ('page', 'screen', 'track')
        and occurred_at is not null

),

with_previous as (

    select
        *,
        lag(occurred_at) over visitor_order as previous_occurred_at,
        row_number() over visitor_order as visitor_event_number
    from visits
    window visitor_order as (partition by visitor_id order by occurred_at, event_id)

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

-- The window runs over a visitor's events in time order, so an event belongs to
-- the latest session start up to it. The session number counts the starts so
-- far, and the start time and first event come from the latest start.
session_bounds as (

    select
        event_id,
        visitor_id,
        cast(sum(is_session_start) over visitor_so_far as {{ dbt.type_bigint() }})
            as session_number,
        max(case when is_session_start = 1 then occurred_at end)
            over visitor_so_far as session_started_at,
        cast(
            visitor_event_number
            - max(case when is_session_start = 1 then visitor_event_number end)
                over visitor_so_far
            + 1
            as {{ dbt.type_bigint() }}
        ) as event_number
    from session_starts
    window visitor_so_far as (
        partition by visitor_id
        order by occurred_at, event_id
        rows between unbounded preceding and current row
    )

),

-- The customer a visitor's events resolve to, taken from the newest event that
-- has one, so sessions before a login get the customer too.
visitor_customers as (

    select
        visitor_id,
        {{ cdp.max_by_non_null('customer_id', 'occurred_at') }} as customer_id
    from visits
    group by visitor_id

),

events as (

    select * from {{ events_read }}
    where event_type in ('page', 'screen', 'track')
        and occurred_at is not null

),

{#- The events whose page fields are parsed from the JSON of their delivery. -#}
{%- set events_parsed = 'events_to_parse' if is_incremental() else 'events' %}
{% if is_incremental() %}
events_to_parse as (

    select * from events
    where event_id not in (select event_id from reused_page_fields)

),

-- The deliveries of the events to parse, found on the narrow event_id column
-- and read whole by DuckDB's rowid. Most of them are the newest rows of
-- stg_web__events, so DuckDB reads the JSON columns of few row groups.
web_events as (

    select * from {{ ref('stg_web__events') }}
    where rowid in (
        select rowid from {{ ref('stg_web__events') }}
        where event_id in (select event_id from events_to_parse)
    )

),
{% else %}
web_events as (

    select * from {{ ref('stg_web__events') }}

),
{% endif %}

{%- set context_paths = [
    'page.path', 'page.referrer', 'campaign.source', 'campaign.medium', 'campaign.name'
] %}
{%- set properties_paths = ['path', 'referrer', 'sku'] %}
-- json_texts extracts all paths of a document in one call.
activity as (

    select
        events.event_id,
        events.anonymous_id,
        events.user_id,
        events.customer_id as event_customer_id,
        events.event_type,
        events.event_name,
        events.occurred_at,
        events.page_url,
        {{ cdp.json_texts('web_events.context_json', context_paths) }}
            as context_texts,
        {{ cdp.json_texts('web_events.properties_json', properties_paths) }}
            as properties_texts
    from {{ events_parsed }} as events
    left join web_events
        on events.event_id = web_events.event_id

),

-- analytics.js copies the utm_ query parameters into context.campaign. The page
-- URL is the fallback for libraries that do not.
page_fields as (

    select
        event_id,
        anonymous_id,
        user_id,
        event_customer_id,
        event_type,
        event_name,
        occurred_at,
        coalesce(
            {{ cdp.json_texts_at('context_texts', context_paths, 'page.path') }},
            {{ cdp.json_texts_at('properties_texts', properties_paths, 'path') }}
        ) as page_path,
        page_url,
        lower(coalesce(
            {{ cdp.json_texts_at('context_texts', context_paths, 'page.referrer') }},
            {{ cdp.json_texts_at('properties_texts', properties_paths, 'referrer') }}
        )) as referrer,
        lower(coalesce(
            {{ cdp.json_texts_at('context_texts', context_paths, 'campaign.source') }},
            {{ cdp.url_query_parameter('page_url', 'utm_source') }}
        )) as utm_source,
        lower(coalesce(
            {{ cdp.json_texts_at('context_texts', context_paths, 'campaign.medium') }},
            {{ cdp.url_query_parameter('page_url', 'utm_medium') }}
        )) as utm_medium,
        lower(coalesce(
            {{ cdp.json_texts_at('context_texts', context_paths, 'campaign.name') }},
            {{ cdp.url_query_parameter('page_url', 'utm_campaign') }}
        )) as utm_campaign,
        {{ cdp.json_texts_at('properties_texts', properties_paths, 'sku') }}
            as product_sku
    from activity
    {%- if is_incremental() %}
    union all
    select
        events.event_id,
        events.anonymous_id,
        events.user_id,
        events.customer_id as event_customer_id,
        events.event_type,
        events.event_name,
        events.occurred_at,
        reused_page_fields.page_path,
        events.page_url,
        reused_page_fields.referrer,
        reused_page_fields.utm_source,
        reused_page_fields.utm_medium,
        reused_page_fields.utm_campaign,
        reused_page_fields.product_sku
    from events
    inner join reused_page_fields
        on events.event_id = reused_page_fields.event_id
    {%- endif %}

),

final as (

    select
        page_fields.event_id,
        {{ cdp.surrogate_key(['session_bounds.visitor_id', 'session_bounds.session_started_at']) }}
            as session_id,
        session_bounds.visitor_id,
        session_bounds.session_number,
        session_bounds.event_number,
        coalesce(page_fields.event_customer_id, visitor_customers.customer_id)
            as customer_id,
        page_fields.event_customer_id,
        page_fields.anonymous_id,
        page_fields.user_id,
        page_fields.event_type,
        page_fields.event_name,
        page_fields.occurred_at,
        session_bounds.session_started_at,
        page_fields.page_path,
        page_fields.page_url,
        page_fields.referrer,
        page_fields.utm_source,
        page_fields.utm_medium,
        page_fields.utm_campaign,
        page_fields.product_sku,
        {{ cdp.processed_at() }} as _processed_at
    from page_fields
    inner join session_bounds
        on page_fields.event_id = session_bounds.event_id
    left join visitor_customers
        on session_bounds.visitor_id = visitor_customers.visitor_id

)

select * from final
