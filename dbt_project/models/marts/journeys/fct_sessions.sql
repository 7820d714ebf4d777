-- One row per visitor session: its times, counts, landing page and the channel
-- and campaign of its first event.
-- Incremental: a visitor's sessions are recomputed when fct_session_events wrote
-- the visitor again. It does so for every visitor with a changed event or
-- customer_id. The post-hook deletes sessions left without events.
{{ cdp.incremental_config(
    unique_key='visitor_id',
    post_hook="{{ cdp.delete_rows_missing_from(ref('fct_session_events'), 'session_id') }}",
) }}

with

{% if is_incremental() %}
changed_visitors as (

    select distinct visitor_id
    from {{ ref('fct_session_events') }}
    where _processed_at > {{ cdp.incremental_watermark() }}

),

{% endif %}
{#- The changed visitors' events are found on the narrow visitor_id column and
    read whole by DuckDB's rowid, so DuckDB reads the other columns only of the
    row groups that hold them. #}
session_events as (

    select * from {{ ref('fct_session_events') }}
    {% if is_incremental() %}
    where rowid in (
        select rowid from {{ ref('fct_session_events') }}
        where visitor_id in (select visitor_id from changed_visitors)
    )
    {% endif %}

),

first_events as (

    select
        session_id,
        utm_source,
        utm_medium,
        utm_campaign,
        {{ cdp.url_host('page_url') }} as page_host,
        {{ cdp.url_host('referrer') }} as referrer_host
    from session_events
    where event_number = 1

),

sessions as (

    select
        session_id,
        visitor_id,
        min(anonymous_id) as anonymous_id,
        {{ cdp.max_by_non_null('customer_id', 'event_number') }} as customer_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        {{ cdp.count_if("event_type in ('page', 'screen')") }}
            as pageview_count,
        -- App sessions have no page path, so their landing page is the first
        -- screen name.
        coalesce(
            {{ cdp.min_by_non_null('page_path', 'event_number') }},
            {{ cdp.min_by_non_null(
                "case when event_type = 'screen' then event_name end", 'event_number'
            ) }}
        ) as landing_page
    from session_events
    group by session_id, visitor_id

),

final as (

    select
        sessions.session_id,
        sessions.visitor_id,
        sessions.anonymous_id,
        sessions.customer_id,
        sessions.started_at,
        sessions.ended_at,
        {{ dbt.datediff('sessions.started_at', 'sessions.ended_at', 'second') }}
            as duration_seconds,
        sessions.event_count,
        sessions.pageview_count,
        sessions.landing_page,
        first_events.referrer_host,
        first_events.utm_source,
        first_events.utm_medium,
        first_events.utm_campaign,
        {{ cdp.session_channel(
            'first_events.utm_source',
            'first_events.utm_medium',
            'first_events.referrer_host',
            'first_events.page_host'
        ) }} as channel,
        {{ cdp.processed_at() }} as _processed_at
    from sessions
    inner join first_events
        on sessions.session_id = first_events.session_id

)

select * from final
