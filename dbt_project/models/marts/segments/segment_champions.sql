-- Buyers in the RFM group champions, whose recency and frequency quintiles among
-- all buyers are both 4 or 5 (see customer_rfm).
with

traits as (

    select * from {{ ref('customer_traits') }}

),

final as (

    select
        customer_id,
        has_email_consent,
        is_email_suppressed,
        rfm_group,
        rfm_score,
        recency_score,
        frequency_score,
        order_count,
        revenue_eur,
        last_order_at
    from traits
    where rfm_group = 'champions'

)

select * from final
