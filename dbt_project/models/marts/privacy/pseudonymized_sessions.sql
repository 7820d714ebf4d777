-- One row per session of fct_sessions with every column of analytics_sessions:
-- the session, visitor and customer pseudonyms and the landing page as a path.
-- analytics_sessions reads this table, so hashing runs once per session instead
-- of each time an analyst or the analyst copy reads the view.
-- Incremental: the sessions of the visitors that fct_sessions wrote since this
-- model last ran, or every session after a change of the pseudonym key. The
-- customer_id column puts the rows in the erasure step's scope.
{{ cdp.incremental_config(
    unique_key='visitor_id',
    post_hook="{{ cdp.delete_rows_missing_from(
        ref('fct_sessions'), 'session_id', one_row_per_upstream_row=true
    ) }}",
) }}

with

pseudonym_keys as (

    select
        padded_keys.*,
        {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

sessions as (

    select * from {{ ref('fct_sessions') }}
    {% if is_incremental() %}
    where _processed_at > {{ cdp.incremental_watermark() }}
        or {{ cdp.pseudonym_key_changed() }}
    {% endif %}

),

final as (

    select
        sessions.session_id,
        sessions.visitor_id,
        sessions.customer_id,
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
        sessions.channel,
        pseudonym_keys.key_fingerprint,
        {{ cdp.processed_at() }} as _processed_at
    from sessions
    cross join pseudonym_keys

)

select * from final
