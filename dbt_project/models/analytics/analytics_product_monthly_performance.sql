-- marts.product_monthly_performance as it is: aggregates with no customer-level rows.
with

final as (

    select * from {{ ref('product_monthly_performance') }}

)

select * from final
