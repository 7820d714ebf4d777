-- Buyers at churn risk (customer_traits.is_churn_risk) whose revenue is at least
-- var churn_risk_high_value_min_revenue_eur (EUR, refunded and voided orders
-- excluded).
with

traits as (

    select * from {{ ref('customer_traits') }}

),

final as (

    select
        customer_id,
        has_email_consent,
        is_email_suppressed,
        revenue_eur,
        churn_risk_basis,
        p_alive,
        days_since_last_order,
        predicted_clv_12m_eur
    from traits
    where is_churn_risk
        and revenue_eur >= {{ var('churn_risk_high_value_min_revenue_eur') }}

)

select * from final
