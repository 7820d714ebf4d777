-- Customers in the top var high_predicted_clv_top_share of predicted revenue over
-- the 12 months after the as-of date, among customers with a prediction: fewer than
-- that share of them have a higher prediction. A share rather than an amount in
-- EUR, because the scale of the predictions follows the order history. Empty until
-- the customer_clv step has run for this as-of date, because the prediction is null
-- before that.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

-- Customers with equal predictions share a rank.
ranked as (

    select
        *,
        cast(rank() over (order by predicted_clv_12m_eur desc) as {{ dbt.type_bigint() }})
            as predicted_clv_rank,
        count(*) over () as customers_with_prediction
    from traits
    where predicted_clv_12m_eur is not null

),

-- The var is a decimal literal, so the product with the count is exact.
final as (

    select
        customer_id,
        has_email_consent,
        is_email_suppressed,
        predicted_clv_12m_eur,
        predicted_clv_rank,
        customers_with_prediction,
        p_alive,
        expected_purchases_90d,
        revenue_eur
    from ranked
    where predicted_clv_rank - 1
        < {{ var('high_predicted_clv_top_share') }} * customers_with_prediction

)

select * from final
