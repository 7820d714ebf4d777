-- Email addresses that hard-bounced at least once. Mail to them is suppressed.
with

email_activities as (

    select * from {{ ref('stg_email__activities') }}

),

hard_bounces as (

    select * from email_activities
    where activity_type = 'hard_bounced'
        and email is not null

),

final as (

    select
        email,
        count(*) as hard_bounce_count,
        min(occurred_at) as first_hard_bounced_at,
        max(occurred_at) as last_hard_bounced_at
    from hard_bounces
    group by email

)

select * from final
