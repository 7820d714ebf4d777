-- One row per event of fct_events with every column of analytics_events: the
-- four pseudonyms (event, customer, visitor, session), the page as host and path,
-- and the session fields. analytics_events reads this table, so hashing, URL
-- parsing and the join with fct_session_events run once per event instead of
-- each time an analyst or the analyst copy reads the view.
-- Incremental: events that fct_events or fct_session_events wrote since this
-- model last ran, or every event after a change of the pseudonym key. The
-- customer_id column puts the rows in the erasure step's scope, as for
-- fct_events.
{{ cdp.incremental_config(
    unique_key='event_id',
    post_hook="{{ cdp.delete_rows_missing_from(
        ref('fct_events'), 'event_id', one_row_per_upstream_row=true
    ) }}",
) }}

with

pseudonym_keys as (

    select
        padded_keys.*,
        {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

{% if is_incremental() %}
-- Rows are appended in processing order. With each condition in a branch of its
-- own, the filters on _processed_at read only the newest row groups.
changed_event_ids as (

    select event_id
    from {{ ref('fct_events') }}
    where _processed_at > {{ cdp.incremental_watermark() }}
    union
    select event_id
    from {{ ref('fct_session_events') }}
    where _processed_at > {{ cdp.incremental_watermark() }}
    union
    select event_id
    from {{ ref('fct_events') }}
    where {{ cdp.pseudonym_key_changed() }}

),

{% endif %}
{#- The changed events are found on the narrow event_id column and read whole
    by DuckDB's rowid, so DuckDB reads the other columns only of the row groups
    that hold them. #}
events as (

    select * from {{ ref('fct_events') }}
    {% if is_incremental() %}
    where rowid in (
        select rowid from {{ ref('fct_events') }}
        where event_id in (select event_id from changed_event_ids)
    )
    {% endif %}

),

session_events as (

    select * from {{ ref('fct_session_events') }}
    {% if is_incremental() %}
    where rowid in (
        select rowid from {{ ref('fct_session_events') }}
        where event_id in (select event_id from changed_event_ids)
    )
    {% endif %}

),

final as (

    select
        events.event_id,
        events.customer_id,
        {{ cdp.pseudonymize('events.event_id') }} as event_pseudonym,
        {{ cdp.pseudonymize('events.customer_id') }} as customer_pseudonym,
        {{ cdp.pseudonymize(
            "coalesce(events.anonymous_id, " ~ dbt.concat(["'user:'", 'events.user_id']) ~ ")"
        ) }} as visitor_pseudonym,
        {{ cdp.pseudonymize('session_events.session_id') }} as session_pseudonym,
        events.event_type,
        events.event_name,
        events.occurred_at,
        events.received_at,
        {{ cdp.url_host('events.page_url') }} as page_host,
        coalesce(
            {{ cdp.url_path('session_events.page_path') }},
            {{ cdp.url_path('events.page_url') }}
        ) as page_path,
        {{ cdp.url_host('session_events.referrer') }} as referrer_host,
        session_events.utm_source,
        session_events.utm_medium,
        session_events.utm_campaign,
        session_events.product_sku,
        pseudonym_keys.key_fingerprint,
        {{ cdp.processed_at() }} as _processed_at
    from events
    left join session_events
        on events.event_id = session_events.event_id
    cross join pseudonym_keys

)

select * from final
