-- One row per order and attribution model, as marts.order_attribution, with
-- pseudonyms in place of the ids. touch_pseudonym is the session_pseudonym of a
-- web touch or the email_activity_pseudonym of an email touch.
with

attribution as (

    select * from {{ ref('order_attribution') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('attribution.order_attribution_id') }}
            as order_attribution_pseudonym,
        {{ cdp.pseudonymize('attribution.order_id') }} as order_pseudonym,
        attribution.attribution_model,
        {{ cdp.pseudonymize('attribution.customer_id') }} as customer_pseudonym,
        attribution.ordered_at,
        attribution.touch_type,
        {{ cdp.pseudonymize('attribution.touch_id') }} as touch_pseudonym,
        attribution.touched_at,
        attribution.channel,
        attribution.campaign_source,
        attribution.campaign_name,
        attribution.email_campaign_id,
        attribution.touch_count,
        attribution.attributed_revenue_eur
    from attribution
    cross join pseudonym_keys

)

select * from final
