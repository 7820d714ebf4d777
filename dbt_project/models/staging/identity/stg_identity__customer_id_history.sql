with

source as (

    select * from {{ source('identity', 'customer_id_history') }}

),

final as (

    select
        cast(old_customer_id as {{ dbt.type_string() }}) as old_customer_id,
        cast(new_customer_id as {{ dbt.type_string() }}) as new_customer_id,
        cast(change as {{ dbt.type_string() }}) as change_type,
        cast(records as {{ dbt.type_bigint() }}) as moved_record_count,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(changed_at as {{ dbt.type_timestamp() }}) as changed_at
    from source

)

select * from final
