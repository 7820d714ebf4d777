-- Every consent decision of a known customer, per channel, with its source and
-- time. The sources record decisions for the email channel only: CRM opt-in flags,
-- the shop's Accepts Marketing, lead-form consent, and email unsubscribes and
-- complaints. NOTE: the web tracking export carries no consent events, and no
-- source records SMS or ad personalization consent yet, so those channels have no
-- rows here and no consent in customer_consent.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

consent_signals as (

    select * from {{ ref('int_email_consent_signals') }}

),

decisions as (

    select
        customer_records.customer_id,
        'email' as channel,
        consent_signals.signal_source as source,
        consent_signals.record_key,
        consent_signals.signal_at as decided_at,
        consent_signals.is_consent as is_granted,
        consent_signals.consent_signal_id
    from consent_signals
    inner join customer_records
        on consent_signals.record_key = customer_records.record_key

),

-- The latest decision wins; on equal times a withdrawal wins over a grant.
ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, channel
            order by
                decided_at desc nulls last,
                case when is_granted then 1 else 0 end,
                consent_signal_id
        ) as recency_rank
    from decisions

),

final as (

    select
        {{ cdp.surrogate_key(['customer_id', 'channel', 'consent_signal_id']) }}
            as consent_decision_id,
        customer_id,
        channel,
        source,
        record_key,
        decided_at,
        is_granted,
        recency_rank = 1 as is_current
    from ranked

)

select * from final
