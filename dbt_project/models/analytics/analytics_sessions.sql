-- One row per visitor session, as marts.fct_sessions, with pseudonyms in place of
-- the session, visitor and customer ids and of the anonymous id.
with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('sessions.session_id') }} as session_pseudonym,
        {{ cdp.pseudonymize('sessions.visitor_id') }} as visitor_pseudonym,
        {{ cdp.pseudonymize('sessions.customer_id') }} as customer_pseudonym,
        sessions.started_at,
        sessions.ended_at,
        sessions.duration_seconds,
        sessions.event_count,
        sessions.pageview_count,
        {{ cdp.url_path('sessions.landing_page') }} as landing_page,
        sessions.referrer_host,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        sessions.channel
    from sessions
    cross join pseudonym_keys

)

select * from final
