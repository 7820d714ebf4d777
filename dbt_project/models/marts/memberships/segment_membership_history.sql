-- One row per stay of a customer in a segment, from segment_memberships_snapshot.
-- A customer who leaves and later enters again gets a second row. entered_at and
-- left_at are the times of the nightly snapshot runs that first found and then no
-- longer found the membership.
with

snapshot as (

    select * from {{ ref('segment_memberships_snapshot') }}

),

final as (

    select
        customer_id,
        segment_name,
        segment_owner,
        dbt_valid_from as entered_at,
        dbt_valid_to as left_at,
        dbt_valid_to is null as is_current
    from snapshot

)

select * from final
