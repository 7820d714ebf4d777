-- One row per email activity, as marts.fct_email_activities, with pseudonyms in
-- place of the activity and customer ids, no email address, and click URLs
-- without their query string.
-- TODO: this view hashes two ids of every activity on each read (9.7 s of the
-- analyst copy at 1,000,000 customers). Stored pseudonyms, as in
-- pseudonymized_sessions, need fct_email_activities to be incremental first.
with

activities as (

    select * from {{ ref('fct_email_activities') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('activities.email_activity_id') }} as email_activity_pseudonym,
        {{ cdp.pseudonymize('activities.customer_id') }} as customer_pseudonym,
        activities.campaign_id,
        activities.campaign_name,
        activities.activity_type,
        activities.occurred_at,
        {{ cdp.url_without_query('activities.url') }} as url
    from activities
    cross join pseudonym_keys

)

select * from final
