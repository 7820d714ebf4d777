-- One row per web or app event, as marts.fct_events, with pseudonyms in place of
-- the event, visitor, session and customer ids, and the page as host and path:
-- query strings and the referrer's path can carry personal data. The pseudonyms
-- come from event_pseudonyms where its ids and key still match, and are
-- computed here otherwise, so the view is right even when that table is behind.
with

events as (

    select * from {{ ref('fct_events') }}

),

session_events as (

    select * from {{ ref('fct_session_events') }}

),

stored_pseudonyms as (

    select * from {{ ref('event_pseudonyms') }}

),

pseudonym_keys as (

    select
        padded_keys.*,
        {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

final as (

    select
        {{ cdp.stored_pseudonym('stored_pseudonyms.event_id', 'stored_pseudonyms.event_pseudonym', 'events.event_id') }}
            as event_pseudonym,
        {{ cdp.stored_pseudonym('stored_pseudonyms.customer_id', 'stored_pseudonyms.customer_pseudonym', 'events.customer_id') }}
            as customer_pseudonym,
        {{ cdp.stored_pseudonym(
            'stored_pseudonyms.visitor_id',
            'stored_pseudonyms.visitor_pseudonym',
            "coalesce(events.anonymous_id, " ~ dbt.concat(["'user:'", 'events.user_id']) ~ ")",
        ) }} as visitor_pseudonym,
        {{ cdp.stored_pseudonym('stored_pseudonyms.session_id', 'stored_pseudonyms.session_pseudonym', 'session_events.session_id') }}
            as session_pseudonym,
        events.event_type,
        events.event_name,
        events.occurred_at,
        events.received_at,
        {{ cdp.url_host('events.page_url') }} as page_host,
        coalesce(
            {{ cdp.url_path('session_events.page_path') }},
            {{ cdp.url_path('events.page_url') }}
        ) as page_path,
        {{ cdp.url_host('session_events.referrer') }} as referrer_host,
        session_events.utm_source,
        session_events.utm_medium,
        session_events.utm_campaign,
        session_events.product_sku
    from events
    left join session_events
        on events.event_id = session_events.event_id
    cross join pseudonym_keys
    left join stored_pseudonyms
        on events.event_id = stored_pseudonyms.event_id
            and stored_pseudonyms.key_fingerprint = pseudonym_keys.key_fingerprint

)

select * from final
