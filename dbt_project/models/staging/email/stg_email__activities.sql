with

source as (

    select * from {{ source('raw', 'email_activity') }}

),

renamed as (

    select
        {{ cdp.clean_text('campaign_id') }} as campaign_id,
        {{ cdp.clean_text('campaign_name') }} as campaign_name,
        lower({{ cdp.clean_text('email') }}) as email_address,
        lower({{ cdp.clean_text('action') }}) as action,
        {{ cdp.clean_text('timestamp') }} as exported_timestamp,
        {{ cdp.parse_timestamp_utc('timestamp') }} as occurred_at,
        {{ cdp.clean_text('url') }} as url,
        _file,
        _row_number
    from source

),

-- A row exported again in a later file is the same activity, because the export's
-- key is (campaign, address, action, timestamp).
ranked as (

    select
        *,
        row_number() over (
            partition by campaign_id, email_address, action, exported_timestamp
            order by _file, _row_number
        ) as copy_rank
    from renamed
    where email_address is not null

),

deduplicated as (

    select * from ranked where copy_rank = 1

),

final as (

    select
        {{ cdp.surrogate_key(
            ['campaign_id', 'email_address', 'action', 'exported_timestamp']
        ) }} as email_activity_id,
        campaign_id,
        campaign_name,
        email_address,
        {{ cdp.normalize_email('email_address') }} as email,
        action,
        {{ cdp.email_activity_type('action') }} as activity_type,
        occurred_at,
        url,
        _file,
        _row_number
    from deduplicated

)

select * from final
