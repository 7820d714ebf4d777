-- Every statement about a person's consent to marketing email, one row per signal
-- and record: CRM opt-in flags, the shop's Accepts Marketing, lead-form consent
-- (true or false), and unsubscribes and spam complaints (always false).
with

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

shop_orders as (

    select * from {{ ref('stg_shop__orders') }}

),

social_leads as (

    select * from {{ ref('stg_social__leads') }}

),

email_activities as (

    select * from {{ ref('stg_email__activities') }}

),

-- NOTE: the CRM export has no time for the opt-in flag itself, so the contact's last
-- modification dates it. An edit to another field after an unsubscribe makes a stale
-- opt-in look newer than the unsubscribe.
crm_signals as (

    select
        {{ cdp.record_key('crm_contacts', 'contact_id') }} as record_key,
        'crm_opt_in' as signal_source,
        coalesce(updated_at, created_at) as signal_at,
        has_email_opt_in as is_consent
    from crm_contacts
    where has_email_opt_in is not null

),

shop_signals as (

    select
        {{ cdp.record_key('shop_orders', 'order_id') }} as record_key,
        'shop_accepts_marketing' as signal_source,
        ordered_at as signal_at,
        has_accepted_marketing as is_consent
    from shop_orders
    where has_accepted_marketing is not null

),

lead_signals as (

    select
        {{ cdp.record_key('social_leads', 'lead_id') }} as record_key,
        'lead_form_consent' as signal_source,
        created_at as signal_at,
        has_marketing_consent as is_consent
    from social_leads
    where has_marketing_consent is not null

),

email_signals as (

    select distinct
        {{ cdp.record_key('email_activity', 'email_address') }} as record_key,
        case activity_type
            when 'unsubscribed' then 'email_unsubscribe'
            else 'email_complaint'
        end as signal_source,
        occurred_at as signal_at,
        false as is_consent
    from email_activities
    where activity_type in ('unsubscribed', 'complained')

),

unioned as (

    select * from crm_signals
    union all
    select * from shop_signals
    union all
    select * from lead_signals
    union all
    select * from email_signals

),

final as (

    select
        {{ cdp.surrogate_key(['record_key', 'signal_source', 'signal_at']) }}
            as consent_signal_id,
        record_key,
        signal_source,
        signal_at,
        is_consent
    from unioned

)

select * from final
