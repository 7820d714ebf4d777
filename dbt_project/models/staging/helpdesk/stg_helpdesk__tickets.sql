-- Incremental: a ticket is recomputed from all its raw rows when a later extract
-- exports it, or when one of its raw rows is gone (an erased person, a replaced
-- extract).
{{ cdp.incremental_config(
    unique_key='ticket_id',
    post_hook="{{ cdp.delete_rows_gone_from_raw(source('raw', 'helpdesk_tickets')) }}",
) }}

with

{% if is_incremental() %}
changed_tickets as (

    select {{ cdp.clean_text('ticket_id') }} as ticket_id
    from {{ source('raw', 'helpdesk_tickets') }}
    where _loaded_at > {{ cdp.incremental_watermark() }}
    union
    select ticket_id
    from {{ this }} as previous
    where {{ cdp.raw_row_is_gone(source('raw', 'helpdesk_tickets'), 'previous') }}

),

{% endif %}
source as (

    select * from {{ source('raw', 'helpdesk_tickets') }}
    {% if is_incremental() %}
    where {{ cdp.clean_text('ticket_id') }} in (select ticket_id from changed_tickets)
    {% endif %}

),

renamed as (

    select
        {{ cdp.clean_text('ticket_id') }} as ticket_id,
        requester_name,
        requester_email,
        requester_phone,
        {{ cdp.clean_text('subject') }} as subject,
        {{ cdp.clean_text('description') }} as description,
        lower({{ cdp.clean_text('status') }}) as status,
        lower({{ cdp.clean_text('channel') }}) as channel,
        {{ cdp.parse_timestamp_utc('created_at') }} as created_at,
        {{ cdp.parse_timestamp_utc('updated_at') }} as updated_at,
        lower({{ cdp.clean_text('satisfaction_rating') }}) as satisfaction_rating,
        _file,
        _row_number
    from source

),

-- A ticket exported on several nights keeps its version from the newest file.
ranked as (

    select
        *,
        row_number() over (
            partition by ticket_id
            order by _file desc, updated_at desc nulls last, _row_number desc
        ) as version_rank
    from renamed
    where ticket_id is not null

),

latest as (

    select * from ranked where version_rank = 1

),

final as (

    select
        ticket_id,
        {{ cdp.normalize_name('requester_name') }} as requester_name,
        {{ cdp.first_name_from_full_name('requester_name') }} as requester_first_name,
        {{ cdp.last_name_from_full_name('requester_name') }} as requester_last_name,
        {{ cdp.normalize_email('requester_email') }} as requester_email,
        {{ cdp.normalize_phone('requester_phone', cdp.phone_region()) }}
            as requester_phone,
        subject,
        description,
        status,
        channel,
        created_at,
        updated_at,
        satisfaction_rating,
        _file,
        _row_number,
        {{ cdp.processed_at() }} as _processed_at
    from latest

)

select * from final
