-- One row per known customer with no contact data. A pseudonym replaces the
-- customer id, the country and the first two characters of the postal code replace
-- the address, and the birth year and an age band replace the birth date. Consent,
-- traits, RFM and lifetime value follow as in the marts.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

traits as (

    select * from {{ ref('customer_traits') }}

),

consent as (

    select * from {{ ref('customer_consent') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

ad_consent as (

    select customer_id, has_consent as has_ad_personalization_consent
    from consent
    where channel = 'ad_personalization'

),

aged as (

    select
        customers.*,
        {{ dbt.datediff('customers.birth_date', 'cast(traits.as_of_at as date)', 'year') }}
            - case
                when {{ dbt.dateadd(
                    'year',
                    dbt.datediff('customers.birth_date', 'cast(traits.as_of_at as date)', 'year'),
                    'customers.birth_date',
                ) }} > cast(traits.as_of_at as date) then 1
                else 0
            end as age_years
    from customers
    left join traits
        on customers.customer_id = traits.customer_id

),

final as (

    select
        {{ cdp.pseudonymize('aged.customer_id') }} as customer_pseudonym,
        aged.country_code,
        substr(aged.postal_code, 1, 2) as postal_region,
        cast(extract(year from aged.birth_date) as integer) as birth_year,
        case
            when aged.age_years is null then null
            when aged.age_years < 18 then 'under 18'
            when aged.age_years < 25 then '18-24'
            when aged.age_years < 35 then '25-34'
            when aged.age_years < 45 then '35-44'
            when aged.age_years < 55 then '45-54'
            when aged.age_years < 65 then '55-64'
            else '65+'
        end as age_band,
        aged.email is not null as has_email,
        aged.phone is not null as has_phone,
        aged.record_count,
        aged.source_count,
        aged.sources,
        aged.first_seen_at,
        aged.last_updated_at,
        aged.has_email_consent,
        aged.email_consent_source,
        aged.email_consent_updated_at,
        aged.has_hard_bounced,
        aged.is_email_suppressed,
        traits.has_sms_consent,
        traits.has_phone_consent,
        coalesce(ad_consent.has_ad_personalization_consent, false)
            as has_ad_personalization_consent,
        traits.as_of_at,
        traits.order_count,
        traits.revenue_eur,
        traits.average_order_value_eur,
        traits.first_order_at,
        traits.last_order_at,
        traits.days_since_last_order,
        traits.recency_score,
        traits.frequency_score,
        traits.monetary_score,
        traits.rfm_score,
        traits.rfm_group,
        traits.last_seen_at,
        traits.last_web_event_at,
        traits.web_sessions_30d,
        traits.web_sessions_90d,
        traits.email_opens_30d,
        traits.email_opens_90d,
        traits.email_clicks_30d,
        traits.email_clicks_90d,
        traits.emails_sent_90d,
        traits.preferred_channel,
        traits.ticket_count,
        traits.rated_ticket_count,
        traits.satisfaction_score,
        traits.p_alive,
        traits.expected_purchases_90d,
        traits.predicted_clv_12m_eur,
        traits.is_churn_risk,
        traits.churn_risk_basis
    from aged
    left join traits
        on aged.customer_id = traits.customer_id
    left join ad_consent
        on aged.customer_id = ad_consent.customer_id
    cross join pseudonym_keys

)

select * from final
