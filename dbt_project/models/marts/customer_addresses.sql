-- One row per known customer and distinct address found on any of the customer's
-- source records. An address is street, postal code, city and country code as one
-- value, missing parts included. Each row has the sources and times the address
-- was seen and whether it is the golden address of dim_customers.
-- NOTE: customer_source_records contains only the latest values of each record
-- (newest export, latest web traits), so an address a record carried only before is
-- missing.
{% set address_fields = ['street', 'postal_code', 'city', 'country_code'] %}
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

address_records as (

    select
        customer_id,
        {{ cdp.surrogate_key(address_fields) }} as address_key,
        street,
        postal_code,
        city,
        country_code,
        source,
        coalesce(first_seen_at, observed_at) as first_seen_at,
        observed_at
    from customer_records
    where street is not null
        or postal_code is not null
        or city is not null
        or country_code is not null

),

address_sources as (

    select distinct
        customer_id,
        address_key,
        source
    from address_records

),

source_lists as (

    select
        customer_id,
        address_key,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from address_sources
    group by customer_id, address_key

),

addresses as (

    select
        customer_id,
        address_key,
        street,
        postal_code,
        city,
        country_code,
        count(*) as record_count,
        min(first_seen_at) as first_seen_at,
        max(observed_at) as last_seen_at
    from address_records
    group by
        customer_id,
        address_key,
        street,
        postal_code,
        city,
        country_code

),

golden_addresses as (

    select
        customer_id,
        {{ cdp.surrogate_key(address_fields) }} as address_key
    from customers
    where street is not null
        or postal_code is not null
        or city is not null
        or country_code is not null

),

final as (

    select
        addresses.customer_id,
        addresses.address_key,
        addresses.street,
        addresses.postal_code,
        addresses.city,
        addresses.country_code,
        source_lists.sources,
        addresses.record_count,
        addresses.first_seen_at,
        addresses.last_seen_at,
        golden_addresses.customer_id is not null as is_golden
    from addresses
    inner join source_lists
        on addresses.customer_id = source_lists.customer_id
        and addresses.address_key = source_lists.address_key
    left join golden_addresses
        on addresses.customer_id = golden_addresses.customer_id
        and addresses.address_key = golden_addresses.address_key

)

select * from final
