-- marts.funnel_conversion as it is: aggregates with no customer-level rows.
with

final as (

    select * from {{ ref('funnel_conversion') }}

)

select * from final
