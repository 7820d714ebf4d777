-- When each person record was first seen: the record's creation time where the
-- source exports one, else its earliest activity. int_person_records.observed_at
-- is the latest update instead.
with

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

shop_orders as (

    select * from {{ ref('stg_shop__orders') }}

),

web_profiles as (

    select * from {{ ref('int_web_profiles') }}

),

email_activities as (

    select * from {{ ref('stg_email__activities') }}

),

helpdesk_tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

social_leads as (

    select * from {{ ref('stg_social__leads') }}

),

unioned as (

    select
        {{ cdp.record_key('crm_contacts', 'contact_id') }} as record_key,
        coalesce(created_at, updated_at) as first_seen_at
    from crm_contacts
    union all
    select
        {{ cdp.record_key('shop_orders', 'order_id') }} as record_key,
        ordered_at as first_seen_at
    from shop_orders
    union all
    select
        {{ cdp.record_key('web_events', 'source_record_id') }} as record_key,
        first_seen_at
    from web_profiles
    union all
    select
        {{ cdp.record_key('email_activity', 'email_address') }} as record_key,
        min(occurred_at) as first_seen_at
    from email_activities
    group by email_address
    union all
    select
        {{ cdp.record_key('helpdesk_tickets', 'ticket_id') }} as record_key,
        created_at as first_seen_at
    from helpdesk_tickets
    union all
    select
        {{ cdp.record_key('social_leads', 'lead_id') }} as record_key,
        created_at as first_seen_at
    from social_leads

),

final as (

    select * from unioned

)

select * from final
