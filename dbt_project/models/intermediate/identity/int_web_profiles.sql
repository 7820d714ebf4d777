-- One row per web person record: 'user:<userId>' for each user id and
-- 'anon:<anonymousId>' for each anonymous id, with the latest known value of each
-- person trait among the record's events.
with

events as (

    select * from {{ ref('stg_web__events') }}

),

user_events as (

    select
        {{ dbt.concat(["'user:'", 'user_id']) }} as source_record_id,
        events.*
    from events
    where user_id is not null

),

anonymous_events as (

    select
        {{ dbt.concat(["'anon:'", 'anonymous_id']) }} as source_record_id,
        events.*
    from events
    where anonymous_id is not null

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
        max(occurred_at) as last_seen_at
    from sequenced
    group by source_record_id

)

select * from final
