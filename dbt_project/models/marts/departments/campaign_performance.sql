-- One row per email campaign: customers reached, opens and clicks from the email
-- platform's activity, and the revenue of orders attributed to the campaign's
-- email clicks under the first-touch and last-touch rules of order_attribution.
with

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

attribution as (

    select * from {{ ref('order_attribution') }}

),

engagement as (

    select
        campaign_id,
        {{ cdp.max_by_non_null('campaign_name', 'occurred_at') }} as campaign_name,
        min(case when activity_type = 'sent' then occurred_at end) as first_sent_at,
        count(distinct case when activity_type = 'sent' then customer_id end)
            as sent_customers,
        count(distinct case when activity_type = 'opened' then customer_id end)
            as opened_customers,
        count(distinct case when activity_type = 'clicked' then customer_id end)
            as clicked_customers,
        count(distinct case when activity_type = 'unsubscribed' then customer_id end)
            as unsubscribed_customers,
        {{ cdp.count_if("activity_type = 'clicked'") }} as click_count
    from email_activities
    where campaign_id is not null
    group by campaign_id

),

attributed as (

    select
        email_campaign_id as campaign_id,
        {{ cdp.count_if("attribution_model = 'first_touch'") }}
            as first_touch_orders,
        cast(
            sum(case when attribution_model = 'first_touch' then attributed_revenue_eur else 0 end)
            as decimal(38, 2)
        ) as first_touch_revenue_eur,
        {{ cdp.count_if("attribution_model = 'last_touch'") }}
            as last_touch_orders,
        cast(
            sum(case when attribution_model = 'last_touch' then attributed_revenue_eur else 0 end)
            as decimal(38, 2)
        ) as last_touch_revenue_eur
    from attribution
    where touch_type = 'email_click'
    group by email_campaign_id

),

final as (

    select
        engagement.campaign_id,
        engagement.campaign_name,
        engagement.first_sent_at,
        engagement.sent_customers,
        engagement.opened_customers,
        engagement.clicked_customers,
        engagement.unsubscribed_customers,
        engagement.click_count,
        {{ cdp.safe_ratio('engagement.opened_customers', 'engagement.sent_customers') }}
            as open_rate,
        {{ cdp.safe_ratio('engagement.clicked_customers', 'engagement.sent_customers') }}
            as click_rate,
        {{ cdp.safe_ratio('engagement.clicked_customers', 'engagement.opened_customers') }}
            as click_to_open_rate,
        coalesce(attributed.first_touch_orders, 0) as first_touch_orders,
        coalesce(attributed.first_touch_revenue_eur, 0) as first_touch_revenue_eur,
        coalesce(attributed.last_touch_orders, 0) as last_touch_orders,
        coalesce(attributed.last_touch_revenue_eur, 0) as last_touch_revenue_eur
    from engagement
    left join attributed
        on engagement.campaign_id = attributed.campaign_id

)

select * from final
