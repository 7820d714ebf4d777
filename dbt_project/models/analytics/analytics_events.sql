-- One row per web or app event, as marts.fct_events, with pseudonyms in place of
-- the event, visitor, session and customer ids, and the page as host and path:
-- query strings and the referrer's path can carry personal data.
with

events as (

    select * from {{ ref('fct_events') }}

),

session_events as (

    select * from {{ ref('fct_session_events') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('events.event_id') }} as event_pseudonym,
        {{ cdp.pseudonymize('events.customer_id') }} as customer_pseudonym,
        {{ cdp.pseudonymize(
            "coalesce(events.anonymous_id, " ~ dbt.concat(["'user:'", 'events.user_id']) ~ ")"
        ) }} as visitor_pseudonym,
        {{ cdp.pseudonymize('session_events.session_id') }} as session_pseudonym,
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

)

select * from final
