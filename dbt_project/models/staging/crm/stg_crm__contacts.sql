-- Incremental: a contact is recomputed from all its raw rows when a later extract
-- exports it, or when one of its raw rows is gone (an erased person, a replaced
-- extract).
{{ cdp.incremental_config(
    unique_key='contact_id',
    post_hook="{{ cdp.delete_rows_gone_from_raw(source('raw', 'crm_contacts')) }}",
) }}

with

{% if is_incremental() %}
changed_contacts as (

    select {{ cdp.clean_text('record_id') }} as contact_id
    from {{ source('raw', 'crm_contacts') }}
    where _loaded_at > {{ cdp.incremental_watermark() }}
    union
    select contact_id
    from {{ this }} as previous
    where {{ cdp.raw_row_is_gone(source('raw', 'crm_contacts'), 'previous') }}

),

{% endif %}
source as (

    select * from {{ source('raw', 'crm_contacts') }}
    {% if is_incremental() %}
    where {{ cdp.clean_text('record_id') }}
        in (select contact_id from changed_contacts)
    {% endif %}

),

renamed as (

    select
        {{ cdp.clean_text('record_id') }} as contact_id,
        first_name,
        last_name,
        email,
        phone_number,
        street_address,
        postal_code,
        city,
        {{ cdp.normalize_country('country') }} as country_code,
        {{ cdp.parse_date('date_of_birth') }} as birth_date,
        {{ cdp.parse_timestamp_utc('create_date', var('crm_time_zone')) }} as created_at,
        {{ cdp.parse_timestamp_utc('last_modified_date', var('crm_time_zone')) }}
            as updated_at,
        {{ cdp.parse_boolean('marketing_email_opt_in') }} as has_email_opt_in,
        _file,
        _row_number
    from source

),

-- A contact exported on several nights keeps its version from the newest file.
ranked as (

    select
        *,
        row_number() over (
            partition by contact_id
            order by _file desc, updated_at desc nulls last, _row_number desc
        ) as version_rank
    from renamed
    where contact_id is not null

),

latest as (

    select * from ranked where version_rank = 1

),

final as (

    select
        contact_id,
        {{ cdp.normalize_name('first_name') }} as first_name,
        {{ cdp.normalize_name('last_name') }} as last_name,
        {{ cdp.normalize_email('email') }} as email,
        {{ cdp.normalize_phone('phone_number', cdp.phone_region('country_code')) }}
            as phone,
        {{ cdp.normalize_name('street_address') }} as street,
        {{ cdp.normalize_postal_code('postal_code', 'country_code') }} as postal_code,
        {{ cdp.normalize_name('city') }} as city,
        country_code,
        -- NOTE: a stored row keeps the date check of the run that wrote it, so a
        -- birth date after that run's day stays null until the contact changes or
        -- the model is rebuilt with --full-refresh.
        case
            when birth_date between cast('1900-01-01' as date)
                and cast({{ dbt.current_timestamp() }} as date)
                then birth_date
        end as birth_date,
        created_at,
        updated_at,
        has_email_opt_in,
        _file,
        _row_number,
        {{ cdp.processed_at() }} as _processed_at
    from latest

)

select * from final
