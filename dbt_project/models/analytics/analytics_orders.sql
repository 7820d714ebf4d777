-- One row per shop order, as marts.fct_orders, with pseudonyms in place of the
-- order and customer ids. The shop's internal order number is left out.
-- NOTE: discount_code passes through because the shop's codes are campaign codes.
-- A shop that issues personal codes (referral codes with a name) must drop it here.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('orders.order_id') }} as order_pseudonym,
        {{ cdp.pseudonymize('orders.customer_id') }} as customer_pseudonym,
        orders.ordered_at,
        orders.paid_at,
        orders.currency,
        orders.subtotal,
        orders.shipping,
        orders.taxes,
        orders.total,
        orders.total_eur,
        orders.item_count,
        orders.line_count,
        orders.financial_status,
        orders.fulfillment_status,
        orders.is_refunded_or_voided,
        orders.discount_code
    from orders
    cross join pseudonym_keys

)

select * from final
