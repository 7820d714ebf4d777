-- One row per (record, identifier) pair: the exact identifiers the identity step
-- links records on. An anonymous web record also carries every user id that any
-- of its events was sent with, which links it to that user's record.
with

person_records as (

    select * from {{ ref('int_person_records') }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}

),

emails as (

    select
        record_key,
        'email' as identifier_type,
        email as identifier_value
    from person_records
    where email is not null

),

phones as (

    select
        record_key,
        'phone' as identifier_type,
        phone as identifier_value
    from person_records
    where phone is not null

),

crm_ids as (

    select
        record_key,
        'crm_id' as identifier_type,
        source_record_id as identifier_value
    from person_records
    where source = 'crm_contacts'

),

user_ids as (

    select distinct
        {{ cdp.record_key('web_events', dbt.concat(["'user:'", 'user_id'])) }}
            as record_key,
        'user_id' as identifier_type,
        user_id as identifier_value
    from web_events
    where user_id is not null

),

anonymous_ids as (

    select distinct
        {{ cdp.record_key('web_events', dbt.concat(["'anon:'", 'anonymous_id'])) }}
            as record_key,
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value
    from web_events
    where anonymous_id is not null

),

anonymous_user_ids as (

    select distinct
        {{ cdp.record_key('web_events', dbt.concat(["'anon:'", 'anonymous_id'])) }}
            as record_key,
        'user_id' as identifier_type,
        user_id as identifier_value
    from web_events
    where anonymous_id is not null
        and user_id is not null

),

final as (

    select * from emails
    union all
    select * from phones
    union all
    select * from crm_ids
    union all
    select * from user_ids
    union all
    select * from anonymous_ids
    union all
    select * from anonymous_user_ids

)

select * from final
