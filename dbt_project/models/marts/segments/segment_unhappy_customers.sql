-- Customers whose satisfaction score (share of rated helpdesk tickets rated good)
-- is at most var unhappy_customer_max_satisfaction_score. Customers without a rated
-- ticket have no score and are never members.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

final as (

    select
        customer_id,
        has_email_consent,
        is_email_suppressed,
        satisfaction_score,
        rated_ticket_count,
        ticket_count
    from traits
    where satisfaction_score <= {{ var('unhappy_customer_max_satisfaction_score') }}

)

select * from final
