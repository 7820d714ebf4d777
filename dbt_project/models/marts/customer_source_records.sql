-- The source records behind each known customer. A customer whose records are all
-- anonymous web visitors is not a known customer and has no rows here.
with

record_customers as (

    select * from {{ ref('stg_identity__record_customers') }}

),

person_records as (

    select * from {{ ref('int_person_records') }}

),

first_seen as (

    select * from {{ ref('int_person_records_first_seen') }}

),

joined as (

    select
        record_customers.customer_id,
        person_records.*,
        first_seen.first_seen_at,
        person_records.source = 'web_events'
            and person_records.source_record_id like 'anon:%' as is_anonymous_visitor
    from person_records
    inner join record_customers
        on person_records.record_key = record_customers.record_key
    left join first_seen
        on person_records.record_key = first_seen.record_key

),

known_customers as (

    select customer_id
    from joined
    group by customer_id
    having sum(case when is_anonymous_visitor then 0 else 1 end) > 0

),

known_records as (

    select joined.*
    from joined
    inner join known_customers
        on joined.customer_id = known_customers.customer_id

),

final as (

    select
        record_key,
        customer_id,
        source,
        source_record_id,
        is_anonymous_visitor,
        first_name,
        last_name,
        email,
        phone,
        birth_date,
        street,
        postal_code,
        city,
        country_code,
        first_seen_at,
        observed_at
    from known_records

)

select * from final
