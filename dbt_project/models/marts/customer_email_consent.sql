-- Marketing email consent per known customer: the latest consent signal across
-- all of the customer's records decides. On a tie, a withdrawal wins over a
-- consent. A customer without any signal has not consented.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

consent_signals as (

    select * from {{ ref('int_email_consent_signals') }}

),

customers as (

    select distinct customer_id from customer_records

),

customer_signals as (

    select
        customer_records.customer_id,
        consent_signals.*
    from consent_signals
    inner join customer_records
        on consent_signals.record_key = customer_records.record_key

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by
                signal_at desc nulls last,
                case when is_consent then 1 else 0 end,
                consent_signal_id
        ) as recency_rank
    from customer_signals

),

latest as (

    select * from ranked where recency_rank = 1

),

withdrawals as (

    select
        customer_id,
        max(case when is_consent then signal_at end) as last_opted_in_at,
        max(
            case when signal_source in ('email_unsubscribe', 'email_complaint') then signal_at end
        ) as last_unsubscribed_at
    from customer_signals
    group by customer_id

),

final as (

    select
        customers.customer_id,
        coalesce(latest.is_consent, false) as has_email_consent,
        latest.signal_source as email_consent_source,
        latest.record_key as email_consent_record_key,
        latest.signal_at as email_consent_updated_at,
        withdrawals.last_opted_in_at,
        withdrawals.last_unsubscribed_at,
        coalesce(
            withdrawals.last_unsubscribed_at is not null
            and not coalesce(withdrawals.last_opted_in_at > withdrawals.last_unsubscribed_at, false),
            false
        ) as is_unsubscribed
    from customers
    left join latest
        on customers.customer_id = latest.customer_id
    left join withdrawals
        on customers.customer_id = withdrawals.customer_id

)

select * from final
