-- marts.mgmt_cohort_retention as it is: aggregates with no customer-level rows.
with

final as (

    select * from {{ ref('mgmt_cohort_retention') }}

)

select * from final
