-- One row per touchpoint of a known customer, as marts.customer_timeline, with
-- pseudonyms in place of the ids and without the detail text: the touchpoint's
-- order, session, email activity or ticket is in its own analytics table under
-- source_record_pseudonym.
-- TODO: this view hashes three ids of every touchpoint on each read (22.8 s to
-- copy at 1,000,000 customers). Stored pseudonyms, as in pseudonymized_sessions,
-- need customer_timeline to be incremental first, since it is rebuilt each night.
-- customer_record_fingerprints finds the customers whose records changed. Their
-- e-mail activities and tickets cannot be followed yet, because
-- fct_email_activities and fct_support_tickets have no _processed_at.
with

timeline as (

    select * from {{ ref('customer_timeline') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('timeline.touchpoint_id') }} as touchpoint_pseudonym,
        {{ cdp.pseudonymize('timeline.customer_id') }} as customer_pseudonym,
        timeline.occurred_at,
        timeline.source,
        timeline.touchpoint_type,
        {{ cdp.pseudonymize('timeline.source_record_id') }} as source_record_pseudonym,
        timeline.touchpoint_number
    from timeline
    cross join pseudonym_keys

)

select * from final
