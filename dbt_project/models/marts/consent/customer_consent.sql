-- Current consent per known customer and channel: the current decision of
-- consent_ledger, or no consent when the customer never decided.
with

customers as (

    select distinct customer_id from {{ ref('customer_source_records') }}

),

ledger as (

    select * from {{ ref('consent_ledger') }}

),

channels as (

    select 'email' as channel
    union all
    select 'sms'
    union all
    select 'ad_personalization'

),

current_decisions as (

    select * from ledger where is_current

),

final as (

    select
        customers.customer_id,
        channels.channel,
        coalesce(current_decisions.is_granted, false) as has_consent,
        current_decisions.source as consent_source,
        current_decisions.record_key as consent_record_key,
        current_decisions.decided_at as consent_updated_at
    from customers
    cross join channels
    left join current_decisions
        on customers.customer_id = current_decisions.customer_id
        and channels.channel = current_decisions.channel

)

select * from final
