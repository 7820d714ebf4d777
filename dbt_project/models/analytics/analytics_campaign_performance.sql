-- marts.campaign_performance as it is: aggregates with no customer-level rows.
with

final as (

    select * from {{ ref('campaign_performance') }}

)

select * from final
