-- One row per known customer with behavioural traits as of int_run_context.as_of_at.
-- Only activity up to that instant counts, and the 30- and 90-day counts cover the
-- days before it. Revenue excludes refunded and voided orders.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

engagement as (

    select * from {{ ref('customer_engagement') }}

),

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

tickets as (

    select * from {{ ref('fct_support_tickets') }}

),

clv as (

    select * from {{ ref('stg_clv__customer_clv') }}

),

run_context as (

    select * from {{ ref('int_run_context') }}

),

emails_sent as (

    select
        email_activities.customer_id,
        count(*) as emails_sent_90d
    from email_activities
    cross join run_context
    where email_activities.activity_type = 'sent'
        and email_activities.occurred_at <= run_context.as_of_at
        and email_activities.occurred_at
            > {{ dbt.dateadd('day', -90, 'run_context.as_of_at') }}
    group by email_activities.customer_id

),

-- A rated ticket has satisfaction_rating 'good' or 'bad'. The helpdesk values
-- 'offered' and 'unoffered' mean the customer gave no rating.
ticket_stats as (

    select
        tickets.customer_id,
        count(*) as ticket_count,
        {{ cdp.count_if("tickets.satisfaction_rating in ('good', 'bad')") }}
            as rated_ticket_count,
        {{ cdp.count_if("tickets.satisfaction_rating = 'good'") }} as good_rating_count
    from tickets
    cross join run_context
    where tickets.created_at <= run_context.as_of_at
    group by tickets.customer_id

),

-- Predictions made for an earlier as_of_at are left out, so a stale CLV table
-- never mixes with today's traits.
current_clv as (

    select clv.*
    from clv
    inner join run_context
        on clv.clv_as_of_at = run_context.as_of_at

),

final as (

    select
        customers.customer_id,
        run_context.as_of_at,
        coalesce(rfm.order_count, 0) as order_count,
        coalesce(rfm.revenue_eur, 0) as revenue_eur,
        rfm.average_order_value_eur,
        rfm.first_order_at,
        rfm.last_order_at,
        rfm.days_since_last_order,
        rfm.recency_score,
        rfm.frequency_score,
        rfm.monetary_score,
        rfm.rfm_score,
        rfm.rfm_group,
        engagement.last_seen_at,
        engagement.last_web_event_at,
        coalesce(engagement.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(engagement.web_sessions_90d, 0) as web_sessions_90d,
        coalesce(engagement.email_opens_30d, 0) as email_opens_30d,
        coalesce(engagement.email_opens_90d, 0) as email_opens_90d,
        coalesce(engagement.email_clicks_30d, 0) as email_clicks_30d,
        coalesce(engagement.email_clicks_90d, 0) as email_clicks_90d,
        coalesce(emails_sent.emails_sent_90d, 0) as emails_sent_90d,
        engagement.preferred_channel,
        coalesce(ticket_stats.ticket_count, 0) as ticket_count,
        coalesce(ticket_stats.rated_ticket_count, 0) as rated_ticket_count,
        {{ cdp.safe_ratio('ticket_stats.good_rating_count', 'ticket_stats.rated_ticket_count') }}
            as satisfaction_score,
        customers.has_email_consent,
        customers.is_email_suppressed,
        cast(null as {{ dbt.type_boolean() }}) as has_sms_consent,
        cast(null as {{ dbt.type_boolean() }}) as has_phone_consent,
        current_clv.p_alive,
        current_clv.expected_purchases_90d,
        current_clv.predicted_clv_12m_eur,
        {{ cdp.churn_risk(
            'current_clv.p_alive',
            'current_clv.repeat_purchase_count',
            'rfm.days_since_last_order',
        ) }} as is_churn_risk,
        case
            when rfm.customer_id is null then null
            when current_clv.p_alive is not null
                and current_clv.repeat_purchase_count > 0 then 'p_alive'
            else 'days_since_last_order'
        end as churn_risk_basis
    from customers
    cross join run_context
    left join rfm
        on customers.customer_id = rfm.customer_id
    left join engagement
        on customers.customer_id = engagement.customer_id
    left join emails_sent
        on customers.customer_id = emails_sent.customer_id
    left join ticket_stats
        on customers.customer_id = ticket_stats.customer_id
    left join current_clv
        on customers.customer_id = current_clv.customer_id

)

select * from final
