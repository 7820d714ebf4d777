-- One row per visitor session, as marts.fct_sessions, with pseudonyms in place of
-- the session, visitor and customer ids and of the anonymous id. The rows are
-- computed in pseudonymized_sessions. When the pseudonym key changed after that
-- table was last built, the view fails instead of showing pseudonyms of the old key.
with

stored_sessions as (

    select * from {{ ref('pseudonymized_sessions') }}

),

pseudonym_keys as (

    select {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

final as (

    select
        stored_sessions.session_pseudonym,
        stored_sessions.visitor_pseudonym,
        stored_sessions.customer_pseudonym,
        stored_sessions.started_at,
        stored_sessions.ended_at,
        stored_sessions.duration_seconds,
        stored_sessions.event_count,
        stored_sessions.pageview_count,
        stored_sessions.landing_page,
        stored_sessions.referrer_host,
        stored_sessions.utm_source,
        stored_sessions.utm_medium,
        stored_sessions.utm_campaign,
        stored_sessions.channel
    from stored_sessions
    cross join pseudonym_keys
    where stored_sessions.key_fingerprint = pseudonym_keys.key_fingerprint
        or {{ cdp.raise_error(
            "'pseudonymized_sessions was built under an earlier pseudonym key; "
            ~ "rebuild it: dbt run --select pseudonymized_sessions'"
        ) }}

)

select * from final
