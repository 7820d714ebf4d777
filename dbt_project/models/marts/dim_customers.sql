-- One row per known customer with the golden record. Each field takes the value of
-- the best-ranked record that has one, by customer_source_records.survivorship_rank:
-- CRM records first, then the most recently observed.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

email_consent as (

    select * from {{ ref('customer_email_consent') }}

),

suppressed_addresses as (

    select * from {{ ref('int_email_suppressions') }}

),

golden_records as (

    select
        customer_id,
        {% for field in [
            'email', 'phone', 'first_name', 'last_name', 'street',
            'postal_code', 'city', 'country_code', 'birth_date',
        ] %}
        {{ cdp.min_by_non_null(field, 'survivorship_rank') }} as {{ field }},
        {% endfor %}
        count(*) as record_count,
        count(distinct source) as source_count,
        min(first_seen_at) as first_seen_at,
        max(observed_at) as last_updated_at
    from customer_records
    group by customer_id

),

customer_sources as (

    select distinct
        customer_id,
        source
    from customer_records

),

source_lists as (

    select
        customer_id,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from customer_sources
    group by customer_id

),

final as (

    select
        golden_records.customer_id,
        golden_records.email,
        golden_records.phone,
        golden_records.first_name,
        golden_records.last_name,
        golden_records.street,
        golden_records.postal_code,
        golden_records.city,
        golden_records.country_code,
        golden_records.birth_date,
        golden_records.record_count,
        golden_records.source_count,
        source_lists.sources,
        golden_records.first_seen_at,
        golden_records.last_updated_at,
        email_consent.has_email_consent,
        email_consent.email_consent_source,
        email_consent.email_consent_updated_at,
        coalesce(suppressed_addresses.has_hard_bounced, false) as has_hard_bounced,
        suppressed_addresses.email is not null or email_consent.is_unsubscribed
            as is_email_suppressed
    from golden_records
    inner join source_lists
        on golden_records.customer_id = source_lists.customer_id
    inner join email_consent
        on golden_records.customer_id = email_consent.customer_id
    left join suppressed_addresses
        on golden_records.email = suppressed_addresses.email

)

select * from final
