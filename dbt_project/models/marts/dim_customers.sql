-- One row per known customer with the golden record. customer_golden_fields picks
-- each field's value by the rules in the seed survivorship_rules. <field>_source
-- and <field>_updated_at name the source and observed time of the record that
-- supplied the value.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

golden_fields as (

    select * from {{ ref('customer_golden_fields') }}

),

email_consent as (

    select * from {{ ref('customer_email_consent') }}

),

suppressed_addresses as (

    select * from {{ ref('int_email_suppressions') }}

),

record_summaries as (

    select
        customer_id,
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

-- customer_golden_fields has one row per customer and field, so max() only turns
-- rows into columns.
golden_records as (

    select
        customer_id,
        {% for field, data_type in cdp.golden_record_fields().items() %}
        cast(
            max(case when field = '{{ field }}' then field_value end)
            as {{ data_type }}
        ) as {{ field }},
        max(case when field = '{{ field }}' then source end) as {{ field }}_source,
        max(case when field = '{{ field }}' then observed_at end)
            as {{ field }}_updated_at{% if not loop.last %},{% endif %}
        {% endfor %}
    from golden_fields
    group by customer_id

),

final as (

    select
        record_summaries.customer_id,
        {% for field in cdp.golden_record_fields() %}
        golden_records.{{ field }},
        {% endfor %}
        record_summaries.record_count,
        record_summaries.source_count,
        source_lists.sources,
        record_summaries.first_seen_at,
        record_summaries.last_updated_at,
        email_consent.has_email_consent,
        email_consent.email_consent_source,
        email_consent.email_consent_updated_at,
        coalesce(suppressed_addresses.has_hard_bounced, false) as has_hard_bounced,
        suppressed_addresses.email is not null or email_consent.is_unsubscribed
            as is_email_suppressed,
        {% for field in cdp.golden_record_fields() %}
        golden_records.{{ field }}_source,
        golden_records.{{ field }}_updated_at{% if not loop.last %},{% endif %}
        {% endfor %}
    from record_summaries
    inner join source_lists
        on record_summaries.customer_id = source_lists.customer_id
    inner join email_consent
        on record_summaries.customer_id = email_consent.customer_id
    left join golden_records
        on record_summaries.customer_id = golden_records.customer_id
    left join suppressed_addresses
        on golden_records.email = suppressed_addresses.email

)

select * from final
