-- One row per customer and segment, as marts.segment_memberships, by pseudonym.
with

memberships as (

    select * from {{ ref('segment_memberships') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('memberships.customer_id') }} as customer_pseudonym,
        memberships.segment_name,
        memberships.segment_owner
    from memberships
    cross join pseudonym_keys

)

select * from final
