-- The global email suppression list: one row per address that hard-bounced,
-- unsubscribed or complained, at any time. Exports never mail these addresses,
-- whatever consent signal came later: a CRM opt-in flag carries no reliable date,
-- so it cannot prove that the person opted in again after unsubscribing.
with

email_activities as (

    select * from {{ ref('stg_email__activities') }}

),

suppressing_activities as (

    select * from email_activities
    where activity_type in ('hard_bounced', 'unsubscribed', 'complained')
        and email is not null

),

final as (

    select
        email,
        max(case when activity_type = 'hard_bounced' then 1 else 0 end) = 1
            as has_hard_bounced,
        max(case when activity_type = 'unsubscribed' then 1 else 0 end) = 1
            as has_unsubscribed,
        max(case when activity_type = 'complained' then 1 else 0 end) = 1
            as has_complained,
        min(occurred_at) as first_suppressed_at,
        max(occurred_at) as last_suppressed_at
    from suppressing_activities
    group by email

)

select * from final
