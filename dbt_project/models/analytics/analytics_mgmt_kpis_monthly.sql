-- marts.mgmt_kpis_monthly as it is: aggregates with no customer-level rows.
with

final as (

    select * from {{ ref('mgmt_kpis_monthly') }}

)

select * from final
