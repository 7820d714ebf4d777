-- The email consent of marts.customer_consent agrees with
-- dim_customers.has_email_consent, which the audience exports read. Returns the
-- customers whose two values differ. Dagster shows it as a check of customer_consent.
{{ config(meta={'dagster': {'ref': {'name': 'customer_consent'}}}) }}

select
    dim_customers.customer_id,
    dim_customers.has_email_consent,
    customer_consent.has_consent
from {{ ref('dim_customers') }} as dim_customers
inner join {{ ref('customer_consent') }} as customer_consent
    on dim_customers.customer_id = customer_consent.customer_id
    and customer_consent.channel = 'email'
where dim_customers.has_email_consent != customer_consent.has_consent
