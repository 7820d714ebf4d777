-- One row per web person record: 'user:<userId>' for each user id and
-- 'anon:<anonymousId>' for each anonymous id, with the latest known value of each
-- person trait among the record's events.
-- Incremental: a record is recomputed from all its events when one of them changed.
{#- dbt-spark has no delete+insert strategy: the Spark target rebuilds the table. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    unique_key='source_record_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[] if target.type == 'spark' else "{{ cdp.delete_web_records_without_events(ref('stg_web__events')) }}",
) }}

with

events as (

    select * from {{ ref('stg_web__events') }}

),

{% if is_incremental() %}
-- Events written since this model last ran. stg_web__events also rewrites the
-- other events of a visitor who lost one, so a record that lost an event shows
-- up here too.
changed_events as (

    select user_id, anonymous_id
    from events
    where _processed_at > {{ cdp.incremental_watermark() }}

),

{% endif %}
user_events as (

    select
        {{ dbt.concat(["'user:'", 'user_id']) }} as source_record_id,
        events.*
    from events
    where user_id is not null
    {% if is_incremental() %}
        and user_id in (select user_id from changed_events)
    {% endif %}

),

anonymous_events as (

    select
        {{ dbt.concat(["'anon:'", 'anonymous_id']) }} as source_record_id,
        events.*
    from events
    where anonymous_id is not null
    {% if is_incremental() %}
        and anonymous_id in (select anonymous_id from changed_events)
    {% endif %}

),

record_events as (

    select * from user_events
    union all
    select * from anonymous_events

),

-- A unique order of each record's events, so the latest trait value is
-- deterministic when two events share a timestamp. Events without a time count as
-- the latest (nulls last is DuckDB's default; Spark sorts nulls first).
sequenced as (

    select
        *,
        row_number() over (
            partition by source_record_id order by occurred_at nulls last, message_id
        ) as event_sequence
    from record_events

),

final as (

    select
        source_record_id,
        {% for trait in [
            'first_name', 'last_name', 'email', 'phone', 'birth_date',
            'street', 'postal_code', 'city', 'country_code',
        ] %}
        {{ cdp.max_by_non_null('traits_' ~ trait, 'event_sequence') }} as {{ trait }},
        {% endfor %}
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        {{ cdp.processed_at() }} as _processed_at
    from sequenced
    group by source_record_id

)

select * from final
