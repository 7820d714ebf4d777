-- One row per web or app event. customer_id is null for anonymous visitors that
-- identity never tied to a known customer.
-- Incremental: new or changed events, and events whose record now has another
-- customer than the one stored (a merge, a split, a record joining a customer).
{#- dbt-spark has no delete+insert strategy: the Spark target rebuilds the table. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[] if target.type == 'spark' else "{{ cdp.delete_rows_missing_from(ref('stg_web__events'), 'event_id') }}",
) }}

with

{% if is_incremental() %}
customer_changed_events as (

    select previous.event_id
    from {{ this }} as previous
    left join {{ ref('customer_source_records') }} as customer_records
        on customer_records.record_key = case
            when previous.user_id is not null
                then {{ cdp.record_key('web_events', dbt.concat(["'user:'", 'previous.user_id'])) }}
            else {{ cdp.record_key('web_events', dbt.concat(["'anon:'", 'previous.anonymous_id'])) }}
        end
    where previous.customer_id is distinct from customer_records.customer_id

),

{% endif %}
events as (

    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() %}
    where _processed_at > {{ cdp.incremental_watermark() }}
        or event_id in (select event_id from customer_changed_events)
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
