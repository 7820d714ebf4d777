with

source as (

    select * from {{ source('raw', 'web_events') }}

),

renamed as (

    select
        {{ cdp.clean_text('message_id') }} as message_id,
        lower({{ cdp.clean_text('type') }}) as event_type,
        coalesce({{ cdp.clean_text('event') }}, {{ cdp.clean_text('name') }})
            as event_name,
        {{ cdp.clean_text('anonymous_id') }} as anonymous_id,
        {{ cdp.clean_text('user_id') }} as user_id,
        traits,
        context,
        properties,
        coalesce(
            {{ cdp.parse_timestamp_utc('timestamp') }},
            {{ cdp.parse_timestamp_utc('original_timestamp') }},
            {{ cdp.parse_timestamp_utc('received_at') }}
        ) as occurred_at,
        {{ cdp.parse_timestamp_utc('sent_at') }} as sent_at,
        {{ cdp.parse_timestamp_utc('received_at') }} as received_at,
        _file,
        _row_number
    from source

),

-- Segment delivers each message at least once. The first delivery is kept.
ranked as (

    select
        *,
        row_number() over (
            partition by message_id order by _file, _row_number
        ) as delivery_rank
    from renamed
    where message_id is not null

),

deduplicated as (

    select * from ranked where delivery_rank = 1

),

-- Person traits come from identify calls (traits) or from the traits a library
-- attaches to other calls (context.traits). Group calls describe a company.
traits_extracted as (

    select
        *,
        case when event_type != 'group' then traits end as person_traits,
        {{ cdp.json_text('context', 'traits') }} as context_traits,
        coalesce(
            {{ cdp.json_text('context', 'page.url') }},
            {{ cdp.json_text('properties', 'url') }}
        ) as page_url
    from deduplicated

),

traits_combined as (

    select
        *,
        {% for field, paths in {
            'email': ['email'],
            'phone': ['phone'],
            'first_name': ['firstName', 'first_name'],
            'last_name': ['lastName', 'last_name'],
            'full_name': ['name'],
            'street': ['address.street'],
            'postal_code': ['address.postalCode', 'address.postal_code'],
            'city': ['address.city'],
            'country': ['address.country'],
            'birthday': ['birthday'],
        }.items() %}
        coalesce(
            {%- for path in paths %}
            {{ cdp.json_text('person_traits', path) }},
            {{ cdp.json_text('context_traits', path) }}{{ ',' if not loop.last }}
            {%- endfor %}
        ) as raw_traits_{{ field }}{{ ',' if not loop.last }}
        {% endfor %}
    from traits_extracted

),

country_normalized as (

    select
        *,
        {{ cdp.normalize_country('raw_traits_country') }} as traits_country_code
    from traits_combined

),

final as (

    select
        message_id,
        event_type,
        event_name,
        anonymous_id,
        user_id,
        occurred_at,
        sent_at,
        received_at,
        page_url,
        {{ cdp.normalize_email('raw_traits_email') }} as traits_email,
        {{ cdp.normalize_phone('raw_traits_phone', cdp.phone_region('traits_country_code')) }}
            as traits_phone,
        coalesce(
            {{ cdp.normalize_name('raw_traits_first_name') }},
            {{ cdp.first_name_from_full_name('raw_traits_full_name') }}
        ) as traits_first_name,
        coalesce(
            {{ cdp.normalize_name('raw_traits_last_name') }},
            {{ cdp.last_name_from_full_name('raw_traits_full_name') }}
        ) as traits_last_name,
        {{ cdp.normalize_name('raw_traits_street') }} as traits_street,
        {{ cdp.normalize_postal_code('raw_traits_postal_code', 'traits_country_code') }}
            as traits_postal_code,
        {{ cdp.normalize_name('raw_traits_city') }} as traits_city,
        traits_country_code,
        {{ cdp.parse_date('raw_traits_birthday') }} as traits_birth_date,
        traits as traits_json,
        properties as properties_json,
        context as context_json,
        _file,
        _row_number
    from country_normalized

)

select * from final
