-- One row per web or app event. customer_id is null for anonymous visitors that
-- identity never tied to a known customer.
with

events as (

    select * from {{ ref('stg_web__events') }}

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
        keyed.page_url
    from keyed
    left join customer_records
        on keyed.record_key = customer_records.record_key

)

select * from final
