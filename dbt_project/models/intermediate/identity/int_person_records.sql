-- One row per person record of every source, in the shape the identity step reads.
-- The record ids match the ground truth's source_record_id.
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

crm_records as (

    select
        'crm_contacts' as source,
        contact_id as source_record_id,
        first_name,
        last_name,
        email,
        phone,
        birth_date,
        street,
        postal_code,
        city,
        country_code,
        coalesce(updated_at, created_at) as observed_at
    from crm_contacts

),

shop_records as (

    select
        'shop_orders' as source,
        order_id as source_record_id,
        billing_first_name as first_name,
        billing_last_name as last_name,
        email,
        billing_phone as phone,
        cast(null as date) as birth_date,
        billing_street as street,
        billing_postal_code as postal_code,
        billing_city as city,
        billing_country_code as country_code,
        coalesce(paid_at, ordered_at) as observed_at
    from shop_orders

),

web_records as (

    select
        'web_events' as source,
        source_record_id,
        first_name,
        last_name,
        email,
        phone,
        birth_date,
        street,
        postal_code,
        city,
        country_code,
        last_seen_at as observed_at
    from web_profiles

),

-- One record per address as exported (lower-cased, trimmed). The email column is
-- null for an address that is not valid, such as a typo that bounced.
email_records as (

    select
        'email_activity' as source,
        email_address as source_record_id,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as last_name,
        max(email) as email,
        cast(null as {{ dbt.type_string() }}) as phone,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as street,
        cast(null as {{ dbt.type_string() }}) as postal_code,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as country_code,
        max(occurred_at) as observed_at
    from email_activities
    group by email_address

),

helpdesk_records as (

    select
        'helpdesk_tickets' as source,
        ticket_id as source_record_id,
        requester_first_name as first_name,
        requester_last_name as last_name,
        requester_email as email,
        requester_phone as phone,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as street,
        cast(null as {{ dbt.type_string() }}) as postal_code,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as country_code,
        coalesce(updated_at, created_at) as observed_at
    from helpdesk_tickets

),

social_records as (

    select
        'social_leads' as source,
        lead_id as source_record_id,
        first_name,
        last_name,
        email,
        phone,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as street,
        cast(null as {{ dbt.type_string() }}) as postal_code,
        city,
        cast(null as {{ dbt.type_string() }}) as country_code,
        created_at as observed_at
    from social_leads

),

unioned as (

    select * from crm_records
    union all
    select * from shop_records
    union all
    select * from web_records
    union all
    select * from email_records
    union all
    select * from helpdesk_records
    union all
    select * from social_records

),

final as (

    select
        {{ dbt.concat(['source', "':'", 'source_record_id']) }} as record_key,
        source,
        source_record_id,
        first_name,
        last_name,
        email,
        phone,
        birth_date,
        street,
        postal_code,
        city,
        country_code,
        observed_at
    from unioned

)

select * from final
