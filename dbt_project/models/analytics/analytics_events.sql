-- One row per web or app event, as marts.fct_events, with pseudonyms in place of
-- the event, visitor, session and customer ids, and the page as host and path:
-- query strings and the referrer's path can carry personal data. The rows are
-- computed in pseudonymized_events. When the pseudonym key changed after that
-- table was last built, the view fails instead of showing pseudonyms of the old key.
with

stored_events as (

    select * from {{ ref('pseudonymized_events') }}

),

pseudonym_keys as (

    select {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

final as (

    select
        stored_events.event_pseudonym,
        stored_events.customer_pseudonym,
        stored_events.visitor_pseudonym,
        stored_events.session_pseudonym,
        stored_events.event_type,
        stored_events.event_name,
        stored_events.occurred_at,
        stored_events.received_at,
        stored_events.page_host,
        stored_events.page_path,
        stored_events.referrer_host,
        stored_events.utm_source,
        stored_events.utm_medium,
        stored_events.utm_campaign,
        stored_events.product_sku
    from stored_events
    cross join pseudonym_keys
    where stored_events.key_fingerprint = pseudonym_keys.key_fingerprint
        or {{ cdp.raise_error(
            "'pseudonymized_events was built under an earlier pseudonym key; "
            ~ "rebuild it: dbt run --select pseudonymized_events'"
        ) }}

)

select * from final
