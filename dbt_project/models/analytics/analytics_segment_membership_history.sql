-- One row per stay of a customer in a segment, as
-- marts.segment_membership_history, by pseudonym.
with

history as (

    select * from {{ ref('segment_membership_history') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('history.customer_id') }} as customer_pseudonym,
        history.segment_name,
        history.segment_owner,
        history.entered_at,
        history.left_at,
        history.is_current
    from history
    cross join pseudonym_keys

)

select * from final
