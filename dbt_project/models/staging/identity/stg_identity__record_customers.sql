with

source as (

    select * from {{ source('identity', 'record_customers') }}

),

final as (

    select
        cast(record_key as {{ dbt.type_string() }}) as record_key,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(source_record_id as {{ dbt.type_string() }}) as source_record_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at
    from source

)

select * from final
