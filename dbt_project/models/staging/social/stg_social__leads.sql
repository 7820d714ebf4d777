-- Incremental: a lead is recomputed from all its raw rows when a later extract
-- exports it, or when one of its raw rows is gone (an erased person, a replaced
-- extract).
{{ cdp.incremental_config(
    unique_key='lead_id',
    post_hook="{{ cdp.delete_rows_gone_from_raw(source('raw', 'social_leads')) }}",
) }}

with

{% if is_incremental() %}
changed_leads as (

    select {{ cdp.clean_text('lead_id') }} as lead_id
    from {{ source('raw', 'social_leads') }}
    where _loaded_at > {{ cdp.incremental_watermark() }}
    union
    select lead_id
    from {{ this }} as previous
    where {{ cdp.raw_row_is_gone(source('raw', 'social_leads'), 'previous') }}

),

{% endif %}
source as (

    select * from {{ source('raw', 'social_leads') }}
    {% if is_incremental() %}
    where {{ cdp.clean_text('lead_id') }} in (select lead_id from changed_leads)
    {% endif %}

),

renamed as (

    select
        {{ cdp.clean_text('lead_id') }} as lead_id,
        {{ cdp.parse_timestamp_utc('created_time') }} as created_at,
        {{ cdp.clean_text('ad_id') }} as ad_id,
        {{ cdp.clean_text('ad_name') }} as ad_name,
        {{ cdp.clean_text('adset_name') }} as adset_name,
        {{ cdp.clean_text('campaign_name') }} as campaign_name,
        {{ cdp.clean_text('form_name') }} as form_name,
        lower({{ cdp.clean_text('platform') }}) as platform,
        full_name,
        email,
        phone_number,
        city,
        {{ cdp.parse_boolean('marketing_consent') }} as has_marketing_consent,
        _file,
        _row_number
    from source

),

-- A lead exported on several nights keeps its version from the newest file.
ranked as (

    select
        *,
        row_number() over (
            partition by lead_id order by _file desc, _row_number desc
        ) as version_rank
    from renamed
    where lead_id is not null

),

latest as (

    select * from ranked where version_rank = 1

),

final as (

    select
        lead_id,
        created_at,
        ad_id,
        ad_name,
        adset_name,
        campaign_name,
        form_name,
        platform,
        {{ cdp.normalize_name('full_name') }} as full_name,
        {{ cdp.first_name_from_full_name('full_name') }} as first_name,
        {{ cdp.last_name_from_full_name('full_name') }} as last_name,
        {{ cdp.normalize_email('email') }} as email,
        {{ cdp.normalize_phone('phone_number', cdp.phone_region()) }} as phone,
        {{ cdp.normalize_name('city') }} as city,
        has_marketing_consent,
        _file,
        _row_number,
        {{ cdp.processed_at() }} as _processed_at
    from latest

)

select * from final
