-- Lead score of every known customer who has never placed an order: social
-- lead-form contacts and other prospects (CRM contacts, newsletter recipients,
-- web accounts). The score is the sum of the points below, counted up to the
-- as-of instant of int_run_context, so sales can read why a lead scores high.
{%- set points = {
    'social_lead': 20,
    'recent_lead': 10,
    'email_consent': 15,
    'email_open': 5,
    'email_open_max': 15,
    'email_click': 10,
    'email_click_max': 30,
    'web_session': 5,
    'web_session_max': 20,
    'cart': 15,
    'phone': 5,
} %}
{%- set recent_days = 30 %}
{%- set email_days = 90 %}
{%- set grade_a_min_score = 60 %}
{%- set grade_b_min_score = 30 %}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

social_leads as (

    select * from {{ ref('stg_social__leads') }}

),

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

session_events as (

    select * from {{ ref('fct_session_events') }}

),

run_context as (

    select * from {{ ref('int_run_context') }}

),

prospects as (

    select customers.*
    from customers
    left join orders
        on customers.customer_id = orders.customer_id
    where orders.order_id is null

),

leads as (

    select
        customer_records.customer_id,
        count(*) as lead_count,
        max(social_leads.created_at) as latest_lead_at,
        {{ cdp.max_by_non_null('social_leads.campaign_name', 'social_leads.created_at') }}
            as latest_lead_campaign_name,
        {{ cdp.max_by_non_null('social_leads.form_name', 'social_leads.created_at') }}
            as latest_lead_form_name
    from social_leads
    inner join customer_records
        on {{ cdp.record_key('social_leads', 'social_leads.lead_id') }}
            = customer_records.record_key
    group by customer_records.customer_id

),

email_engagement as (

    select
        email_activities.customer_id,
        {{ cdp.count_if("email_activities.activity_type = 'opened'") }}
            as email_opens,
        {{ cdp.count_if("email_activities.activity_type = 'clicked'") }}
            as email_clicks
    from email_activities
    cross join run_context
    where email_activities.occurred_at <= run_context.as_of_at
        and email_activities.occurred_at
            > {{ dbt.dateadd('day', -email_days, 'run_context.as_of_at') }}
    group by email_activities.customer_id

),

web_visits as (

    select
        sessions.customer_id,
        count(*) as web_sessions
    from sessions
    cross join run_context
    where sessions.customer_id is not null
        and sessions.started_at <= run_context.as_of_at
        and sessions.started_at
            > {{ dbt.dateadd('day', -recent_days, 'run_context.as_of_at') }}
    group by sessions.customer_id

),

cart_adds as (

    select distinct session_events.customer_id
    from session_events
    cross join run_context
    where session_events.customer_id is not null
        and session_events.event_name = 'Product Added'
        and session_events.occurred_at <= run_context.as_of_at
        and session_events.occurred_at
            > {{ dbt.dateadd('day', -recent_days, 'run_context.as_of_at') }}

),

signals as (

    select
        prospects.customer_id,
        leads.customer_id is not null as is_social_lead,
        coalesce(leads.lead_count, 0) as lead_count,
        leads.latest_lead_at,
        leads.latest_lead_campaign_name,
        leads.latest_lead_form_name,
        leads.latest_lead_at
            > {{ dbt.dateadd('day', -recent_days, 'run_context.as_of_at') }}
            as has_recent_lead,
        coalesce(prospects.has_email_consent, false) as has_email_consent,
        prospects.phone is not null as has_phone,
        coalesce(email_engagement.email_opens, 0) as email_opens,
        coalesce(email_engagement.email_clicks, 0) as email_clicks,
        coalesce(web_visits.web_sessions, 0) as web_sessions,
        cart_adds.customer_id is not null as has_cart_add,
        run_context.as_of_at
    from prospects
    cross join run_context
    left join leads
        on prospects.customer_id = leads.customer_id
    left join email_engagement
        on prospects.customer_id = email_engagement.customer_id
    left join web_visits
        on prospects.customer_id = web_visits.customer_id
    left join cart_adds
        on prospects.customer_id = cart_adds.customer_id

),

scored as (

    select
        *,
        case when is_social_lead then {{ points.social_lead }} else 0 end
            as social_lead_points,
        case when has_recent_lead then {{ points.recent_lead }} else 0 end
            as recent_lead_points,
        case when has_email_consent then {{ points.email_consent }} else 0 end
            as email_consent_points,
        least(email_opens * {{ points.email_open }}, {{ points.email_open_max }})
            as email_open_points,
        least(email_clicks * {{ points.email_click }}, {{ points.email_click_max }})
            as email_click_points,
        least(web_sessions * {{ points.web_session }}, {{ points.web_session_max }})
            as web_session_points,
        case when has_cart_add then {{ points.cart }} else 0 end as cart_points,
        case when has_phone then {{ points.phone }} else 0 end as phone_points
    from signals

),

totals as (

    select
        *,
        social_lead_points + recent_lead_points + email_consent_points
            + email_open_points + email_click_points + web_session_points
            + cart_points + phone_points as lead_score
    from scored

),

final as (

    select
        *,
        case
            when lead_score >= {{ grade_a_min_score }} then 'A'
            when lead_score >= {{ grade_b_min_score }} then 'B'
            else 'C'
        end as lead_grade
    from totals

)

select * from final
