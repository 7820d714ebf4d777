-- Customers who viewed a product or added one to the cart in the
-- var browse_abandoner_lookback_days days before the as-of date and have not
-- ordered since their last such event. The events are the Segment e-commerce
-- events 'Product Viewed' and 'Product Added'. An order counts unless it was
-- refunded or voided.
with

traits as (

    select * from {{ ref('customer_traits') }}

),

events as (

    select * from {{ ref('fct_events') }}

),

recent_product_events as (

    select
        events.customer_id,
        {{ cdp.count_if("events.event_name = 'Product Viewed'") }} as recent_product_views,
        {{ cdp.count_if("events.event_name = 'Product Added'") }} as recent_cart_adds,
        max(events.occurred_at) as last_product_event_at
    from events
    inner join traits
        on events.customer_id = traits.customer_id
    where events.event_type = 'track'
        and events.event_name in ('Product Viewed', 'Product Added')
        and events.occurred_at <= traits.as_of_at
        and events.occurred_at > {{ dbt.dateadd(
            'day', -var('browse_abandoner_lookback_days'), 'traits.as_of_at'
        ) }}
    group by events.customer_id

),

final as (

    select
        traits.customer_id,
        traits.has_email_consent,
        traits.is_email_suppressed,
        recent_product_events.recent_product_views,
        recent_product_events.recent_cart_adds,
        recent_product_events.last_product_event_at,
        traits.last_order_at
    from recent_product_events
    inner join traits
        on recent_product_events.customer_id = traits.customer_id
    where traits.last_order_at is null
        or traits.last_order_at < recent_product_events.last_product_event_at

)

select * from final
