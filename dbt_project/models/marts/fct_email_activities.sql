-- One row per email activity (send, open, click, bounce, unsubscribe, complaint)
-- with the customer of the address.
with

email_activities as (

    select * from {{ ref('stg_email__activities') }}

),

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

final as (

    select
        email_activities.email_activity_id,
        customer_records.customer_id,
        email_activities.campaign_id,
        email_activities.campaign_name,
        email_activities.email,
        email_activities.activity_type,
        email_activities.occurred_at,
        email_activities.url
    from email_activities
    left join customer_records
        on {{ cdp.record_key('email_activity', 'email_activities.email_address') }}
            = customer_records.record_key

)

select * from final
