-- One row per shop order (the order Name), with its customer and EUR amounts.
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

fx_rates as (

    select * from {{ ref('fx_rates_to_eur') }}

),

orders_with_customers as (

    select
        orders.*,
        customer_records.customer_id
    from orders
    left join customer_records
        on {{ cdp.record_key('shop_orders', 'orders.order_id') }}
            = customer_records.record_key

),

final as (

    select
        orders_with_customers.order_id,
        orders_with_customers.shopify_order_id,
        orders_with_customers.customer_id,
        orders_with_customers.ordered_at,
        orders_with_customers.paid_at,
        orders_with_customers.currency,
        orders_with_customers.subtotal,
        orders_with_customers.shipping,
        orders_with_customers.taxes,
        orders_with_customers.total,
        cast(orders_with_customers.total * fx_rates.rate_to_eur as decimal(18, 2))
            as total_eur,
        orders_with_customers.item_count,
        orders_with_customers.line_count,
        orders_with_customers.financial_status,
        orders_with_customers.fulfillment_status,
        orders_with_customers.financial_status in ('refunded', 'voided')
            as is_refunded_or_voided,
        orders_with_customers.discount_code
    from orders_with_customers
    left join fx_rates
        on orders_with_customers.currency = fx_rates.currency

)

select * from final
