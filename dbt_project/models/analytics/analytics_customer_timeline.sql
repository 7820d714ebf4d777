-- One row per touchpoint of a known customer, as marts.customer_timeline, with
-- pseudonyms in place of the ids and without the detail text: the touchpoint's
-- order, session, email activity or ticket is in its own analytics table under
-- source_record_pseudonym. The rows are computed in
-- pseudonymized_customer_timeline. When the pseudonym key changed after that
-- table was last built, the view fails instead of showing pseudonyms of the old
-- key.
with

stored_timeline as (

    select * from {{ ref('pseudonymized_customer_timeline') }}

),

pseudonym_keys as (

    select {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

final as (

    select
        stored_timeline.touchpoint_pseudonym,
        stored_timeline.customer_pseudonym,
        stored_timeline.occurred_at,
        stored_timeline.source,
        stored_timeline.touchpoint_type,
        stored_timeline.source_record_pseudonym,
        stored_timeline.touchpoint_number
    from stored_timeline
    cross join pseudonym_keys
    where stored_timeline.key_fingerprint = pseudonym_keys.key_fingerprint
        or {{ cdp.raise_error(
            "'pseudonymized_customer_timeline was built under an earlier pseudonym "
            ~ "key; rebuild it: dbt run --select pseudonymized_customer_timeline'"
        ) }}

)

select * from final
