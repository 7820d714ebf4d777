-- One row per merge or split of a customer id, as marts.customer_id_changes, by
-- pseudonym, so analyses over several nights can follow a customer.
with

changes as (

    select * from {{ ref('customer_id_changes') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('changes.old_customer_id') }} as old_customer_pseudonym,
        {{ cdp.pseudonymize('changes.new_customer_id') }} as new_customer_pseudonym,
        changes.change_type,
        changes.moved_record_count,
        changes.run_id,
        changes.changed_at,
        {{ cdp.pseudonymize('changes.old_customer_id_now') }}
            as old_customer_pseudonym_now,
        changes.is_old_customer_id_retired
    from changes
    cross join pseudonym_keys

)

select * from final
