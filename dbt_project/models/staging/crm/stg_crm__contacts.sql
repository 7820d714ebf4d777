with

source as (

    select * from {{ source('raw', 'crm_contacts') }}

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
        case
            when birth_date between cast('1900-01-01' as date)
                and cast({{ dbt.current_timestamp() }} as date)
                then birth_date
        end as birth_date,
        created_at,
        updated_at,
        has_email_opt_in,
        _file,
        _row_number
    from latest

)

select * from final
