-- Revenue and units per product and month, with the change against the month
-- before and a rising or falling flag. Orders refunded or voided do not count.
-- Revenue is the line amount less its share of the order discount, in EUR,
-- including VAT and excluding shipping.
{%- set trend_min_change = var('product_trend_min_change', 0.25) %}

with

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

fx_rates as (

    select * from {{ ref('fx_rates_to_eur') }}

),

product_categories as (

    select * from {{ ref('product_categories') }}

),

order_gross as (

    select
        order_id,
        sum(line_amount) as gross_amount
    from order_lines
    group by order_id

),

-- The shop applies a discount code to the subtotal, so each line gets the
-- discount in proportion to its amount.
lines as (

    select
        order_lines.order_id,
        order_lines.sku,
        order_lines.product_name as line_product_name,
        order_lines.quantity,
        -- A double, as DuckDB divides decimals; Spark's decimal division would
        -- round the share to fewer digits.
        order_lines.line_amount
            * coalesce(
                cast(orders.subtotal as double) / nullif(order_gross.gross_amount, 0), 1
            )
            * fx_rates.rate_to_eur as revenue_eur,
        cast({{ dbt.date_trunc('month', 'orders.ordered_at') }} as date)
            as month_start_date
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    inner join order_gross
        on order_lines.order_id = order_gross.order_id
    left join fx_rates
        on orders.currency = fx_rates.currency
    where not orders.is_refunded_or_voided
        and orders.ordered_at is not null

),

-- A SKU is "<product id>-<variant>" or the product id itself. SKUs missing from
-- product_categories are their own product.
products as (

    select
        lines.*,
        coalesce(product_categories.product_id, lines.sku, lines.line_product_name)
            as product_id,
        coalesce(product_categories.product_name, lines.line_product_name)
            as product_name,
        coalesce(product_categories.category, 'Uncategorized') as category
    from lines
    left join product_categories
        on lines.sku = product_categories.product_id
        or lines.sku like {{ dbt.concat(['product_categories.product_id', "'-%'"]) }}

),

product_months as (

    select
        product_id,
        month_start_date,
        {{ cdp.min_by_non_null('product_name', 'product_name') }} as product_name,
        min(category) as category,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units,
        {{ cdp.double_to_decimal('sum(revenue_eur)', 18, 2) }} as revenue_eur,
        count(distinct order_id) as order_count
    from products
    group by product_id, month_start_date

),

-- Every product gets a row for every month with orders, so a month without
-- sales counts as zero for the comparison.
months as (

    select distinct month_start_date from product_months

),

product_list as (

    select
        product_id,
        min(product_name) as product_name,
        min(category) as category
    from product_months
    group by product_id

),

spine as (

    select
        product_list.product_id,
        product_list.product_name,
        product_list.category,
        months.month_start_date
    from product_list
    cross join months

),

filled as (

    select
        spine.product_id,
        spine.product_name,
        spine.category,
        spine.month_start_date,
        coalesce(product_months.units, 0) as units,
        coalesce(product_months.revenue_eur, 0) as revenue_eur,
        coalesce(product_months.order_count, 0) as order_count
    from spine
    left join product_months
        on spine.product_id = product_months.product_id
        and spine.month_start_date = product_months.month_start_date

),

compared as (

    select
        *,
        lag(revenue_eur) over (
            partition by product_id order by month_start_date
        ) as previous_revenue_eur,
        lag(units) over (
            partition by product_id order by month_start_date
        ) as previous_units,
        lag(month_start_date) over (
            partition by product_id order by month_start_date
        ) as previous_month_start_date
    from filled

),

previous_months as (

    select
        product_id,
        month_start_date,
        product_name,
        category,
        units,
        revenue_eur,
        order_count,
        -- Months without any order in the shop are missing, so the row before
        -- is the previous calendar month only when it is one month earlier.
        case
            when previous_month_start_date
                = {{ dbt.dateadd('month', -1, 'month_start_date') }}
                then previous_revenue_eur
        end as previous_month_revenue_eur,
        case
            when previous_month_start_date
                = {{ dbt.dateadd('month', -1, 'month_start_date') }}
                then previous_units
        end as previous_month_units
    from compared

),

with_change as (

    select
        *,
        revenue_eur - previous_month_revenue_eur as revenue_change_eur,
        {{ cdp.safe_ratio(
            'revenue_eur - previous_month_revenue_eur', 'previous_month_revenue_eur'
        ) }} as revenue_change_rate
    from previous_months

),

final as (

    select
        *,
        case
            when previous_month_revenue_eur is null then null
            when previous_month_revenue_eur = 0 and revenue_eur > 0 then 'rising'
            when revenue_change_rate >= {{ trend_min_change }} then 'rising'
            when revenue_change_rate <= -{{ trend_min_change }} then 'falling'
            else 'stable'
        end as revenue_trend
    from with_change

)

select * from final
