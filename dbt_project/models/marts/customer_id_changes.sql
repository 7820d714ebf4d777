-- Every merge and split of a customer id, with the id each old id resolves to now,
-- so marts and exports keyed by an earlier id can follow it to today's customer.
with

id_history as (

    select * from {{ ref('stg_identity__customer_id_history') }}

),

id_lookup as (

    select * from {{ ref('stg_identity__customer_id_lookup') }}

),

final as (

    select
        id_history.old_customer_id,
        id_history.new_customer_id,
        id_history.change_type,
        id_history.moved_record_count,
        id_history.run_id,
        id_history.changed_at,
        id_lookup.current_customer_id as old_customer_id_now,
        id_lookup.current_customer_id <> id_history.old_customer_id
            as is_old_customer_id_retired
    from id_history
    inner join id_lookup
        on id_history.old_customer_id = id_lookup.customer_id

)

select * from final
