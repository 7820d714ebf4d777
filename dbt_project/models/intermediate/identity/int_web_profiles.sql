-- One row per web person record: 'user:<userId>' for each user id and
-- 'anon:<anonymousId>' for each anonymous id, with the latest known value of each
-- person trait among the record's events.
-- Incremental: a record is recomputed from all its events when one of them changed.
{{ cdp.incremental_config(
    unique_key='source_record_id',
    post_hook="{{ cdp.delete_web_records_without_events(ref('stg_web__events')) }}",
) }}

{%- set traits = [
    'first_name', 'last_name', 'email', 'phone', 'birth_date',
    'street', 'postal_code', 'city', 'country_code',
] %}
{#- The columns of an event that a web record is built from. -#}
{%- set record_columns -%}
    message_id,
        occurred_at,
        {% for trait in traits -%}
        traits_{{ trait }}{{ ',' if not loop.last }}
        {% endfor -%}
{%- endset %}

with

{% if is_incremental() %}
-- Events written since this model last ran. stg_web__events also rewrites the
-- other events of a visitor who lost one, so a record that lost an event shows
-- up here too.
changed_events as (

    select user_id, anonymous_id
    from {{ ref('stg_web__events') }}
    where _processed_at > {{ cdp.incremental_watermark() }}

),

{% endif %}
{#- The changed records' events are found on the narrow id columns and read
    whole by DuckDB's rowid, so DuckDB reads the trait columns only of the row
    groups that hold them. #}
user_events as (

    select
        {{ dbt.concat(["'user:'", 'user_id']) }} as source_record_id,
        {{ record_columns }}
    from {{ ref('stg_web__events') }} as events
    where user_id is not null
    {% if is_incremental() %}
        and rowid in (
            select rowid from {{ ref('stg_web__events') }}
            where user_id in (select user_id from changed_events)
        )
    {% endif %}

),

anonymous_events as (

    select
        {{ dbt.concat(["'anon:'", 'anonymous_id']) }} as source_record_id,
        {{ record_columns }}
    from {{ ref('stg_web__events') }} as events
    where anonymous_id is not null
    {% if is_incremental() %}
        and rowid in (
            select rowid from {{ ref('stg_web__events') }}
            where anonymous_id in (select anonymous_id from changed_events)
        )
    {% endif %}

),

record_events as (

    select * from user_events
    union all
    select * from anonymous_events

),

record_times as (

    select
        source_record_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from record_events
    group by source_record_id

),

-- A unique order of each record's events, so the latest trait value is
-- deterministic when two events share a timestamp. Events without a time count as
-- the latest (nulls last is DuckDB's default; Spark sorts nulls first). Only the
-- order among events with a trait matters, and few events carry one, so the
-- others are left out of the window.
sequenced as (

    select
        *,
        row_number() over (
            partition by source_record_id order by occurred_at nulls last, message_id
        ) as event_sequence
    from record_events
    where {% for trait in traits -%}
        traits_{{ trait }} is not null{{ ' or ' if not loop.last }}
        {%- endfor %}

),

record_traits as (

    select
        source_record_id,
        {% for trait in traits %}
        {{ cdp.max_by_non_null('traits_' ~ trait, 'event_sequence') }} as {{ trait }}
        {{- ',' if not loop.last }}
        {% endfor %}
    from sequenced
    group by source_record_id

),

final as (

    select
        record_times.source_record_id,
        {% for trait in traits %}
        record_traits.{{ trait }},
        {% endfor %}
        record_times.first_seen_at,
        record_times.last_seen_at,
        {{ cdp.processed_at() }} as _processed_at
    from record_times
    left join record_traits
        on record_times.source_record_id = record_traits.source_record_id

)

select * from final
