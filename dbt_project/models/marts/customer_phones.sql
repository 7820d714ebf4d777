-- One row per known customer and phone number (E.164) found on any of the
-- customer's source records, with the sources and times it was seen and whether
-- it is the golden phone of dim_customers.
-- NOTE: customer_source_records contains only the latest values of each record
-- (newest export, latest web traits), so a number a record carried only before is
-- missing.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

phone_records as (

    select
        customer_id,
        phone,
        source,
        coalesce(first_seen_at, observed_at) as first_seen_at,
        observed_at
    from customer_records
    where phone is not null

),

phone_sources as (

    select distinct
        customer_id,
        phone,
        source
    from phone_records

),

source_lists as (

    select
        customer_id,
        phone,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from phone_sources
    group by customer_id, phone

),

phones as (

    select
        customer_id,
        phone,
        count(*) as record_count,
        min(first_seen_at) as first_seen_at,
        max(observed_at) as last_seen_at
    from phone_records
    group by customer_id, phone

),

final as (

    select
        phones.customer_id,
        phones.phone,
        source_lists.sources,
        phones.record_count,
        phones.first_seen_at,
        phones.last_seen_at,
        coalesce(phones.phone = customers.phone, false) as is_golden
    from phones
    inner join source_lists
        on phones.customer_id = source_lists.customer_id
        and phones.phone = source_lists.phone
    inner join customers
        on phones.customer_id = customers.customer_id

)

select * from final
