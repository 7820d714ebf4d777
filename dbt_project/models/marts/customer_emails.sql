-- One row per known customer and normalized email address found on any of the
-- customer's source records, with the sources and times it was seen and whether
-- it is the golden email of dim_customers.
-- NOTE: customer_source_records contains only the latest values of each record
-- (newest export, latest web traits), so an address a record carried only before is
-- missing.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

email_records as (

    select
        customer_id,
        email,
        source,
        coalesce(first_seen_at, observed_at) as first_seen_at,
        observed_at
    from customer_records
    where email is not null

),

email_sources as (

    select distinct
        customer_id,
        email,
        source
    from email_records

),

source_lists as (

    select
        customer_id,
        email,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from email_sources
    group by customer_id, email

),

emails as (

    select
        customer_id,
        email,
        count(*) as record_count,
        min(first_seen_at) as first_seen_at,
        max(observed_at) as last_seen_at
    from email_records
    group by customer_id, email

),

final as (

    select
        emails.customer_id,
        emails.email,
        source_lists.sources,
        emails.record_count,
        emails.first_seen_at,
        emails.last_seen_at,
        coalesce(emails.email = customers.email, false) as is_golden
    from emails
    inner join source_lists
        on emails.customer_id = source_lists.customer_id
        and emails.email = source_lists.email
    inner join customers
        on emails.customer_id = customers.customer_id

)

select * from final
