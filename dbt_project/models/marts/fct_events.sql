-- One row per web or app event. customer_id is null for anonymous visitors that
-- identity never tied to a known customer.
-- Incremental: new or changed events, and events whose record now has another
-- customer than the one stored (a merge, a split, a record joining a customer).
{{ cdp.incremental_config(
    unique_key='event_id',
    post_hook="{{ cdp.delete_rows_missing_from(
        ref('stg_web__events'), 'event_id', one_row_per_upstream_row=true
    ) }}",
) }}

with

{% if is_incremental() %}
{%- set user_prefix = 'web_events:user:' %}
{%- set anonymous_prefix = 'web_events:anon:' %}
-- The customer of each web record, keyed by the user id or anonymous id that
-- makes up its record key (cdp.record_key), so the stored events are matched on
-- their own columns instead of a key computed for each of them.
web_record_customers as (

    select
        case
            when starts_with(record_key, '{{ user_prefix }}')
                then substr(record_key, {{ user_prefix | length + 1 }})
        end as user_id,
        case
            when starts_with(record_key, '{{ anonymous_prefix }}')
                then substr(record_key, {{ anonymous_prefix | length + 1 }})
        end as anonymous_id,
        customer_id
    from {{ ref('customer_source_records') }}
    where starts_with(record_key, 'web_events:')

),

-- Stored events whose record now has another customer, or none.
customer_changed_events as (

    select previous.event_id
    from {{ this }} as previous
    left join web_record_customers as customer_records
        on previous.user_id = customer_records.user_id
    where previous.user_id is not null
        and previous.customer_id is distinct from customer_records.customer_id
    union all
    select previous.event_id
    from {{ this }} as previous
    left join web_record_customers as customer_records
        on previous.anonymous_id = customer_records.anonymous_id
    where previous.user_id is null
        and previous.customer_id is distinct from customer_records.customer_id

),

{% endif %}
-- New and changed deliveries, and the events whose customer changed. The
-- filter on _processed_at alone reads only the newest row groups of
-- stg_web__events, because the rows are appended in processing order.
events as (

    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() %}
    where _processed_at > {{ cdp.incremental_watermark() }}
    union all
    select * from {{ ref('stg_web__events') }}
    where _processed_at <= {{ cdp.incremental_watermark() }}
        and event_id in (select event_id from customer_changed_events)
    {% endif %}

),

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

-- An event belongs to the record of its user id, or of its anonymous id when it
-- has no user id.
keyed as (

    select
        *,
        case
            when user_id is not null
                then {{ cdp.record_key('web_events', dbt.concat(["'user:'", 'user_id'])) }}
            else {{ cdp.record_key('web_events', dbt.concat(["'anon:'", 'anonymous_id'])) }}
        end as record_key
    from events

),

final as (

    select
        keyed.event_id,
        keyed.message_id,
        customer_records.customer_id,
        keyed.event_type,
        keyed.event_name,
        keyed.occurred_at,
        keyed.received_at,
        keyed.anonymous_id,
        keyed.user_id,
        keyed.page_url,
        {{ cdp.processed_at() }} as _processed_at
    from keyed
    left join customer_records
        on keyed.record_key = customer_records.record_key

)

select * from final
