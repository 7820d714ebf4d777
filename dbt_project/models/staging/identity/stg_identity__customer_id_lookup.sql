with

source as (

    select * from {{ source('identity', 'customer_id_lookup') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(current_customer_id as {{ dbt.type_string() }}) as current_customer_id
    from source

)

select * from final
