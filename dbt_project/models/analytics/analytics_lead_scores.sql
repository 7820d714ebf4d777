-- One row per customer with a lead score, as marts.sales_lead_scores, by pseudonym.
with

scores as (

    select * from {{ ref('sales_lead_scores') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('scores.customer_id') }} as customer_pseudonym,
        scores.is_social_lead,
        scores.lead_count,
        scores.latest_lead_at,
        scores.latest_lead_campaign_name,
        scores.latest_lead_form_name,
        scores.has_recent_lead,
        scores.has_email_consent,
        scores.has_phone,
        scores.email_opens,
        scores.email_clicks,
        scores.web_sessions,
        scores.has_cart_add,
        scores.as_of_at,
        scores.social_lead_points,
        scores.recent_lead_points,
        scores.email_consent_points,
        scores.email_open_points,
        scores.email_click_points,
        scores.web_session_points,
        scores.cart_points,
        scores.phone_points,
        scores.lead_score,
        scores.lead_grade
    from scores
    cross join pseudonym_keys

)

select * from final
