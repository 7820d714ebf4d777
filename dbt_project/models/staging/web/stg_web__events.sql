-- Incremental: an event is recomputed when a delivery of its message is loaded,
-- because the kept delivery and event_id depend on all deliveries of the message.
{{ cdp.incremental_config(
    unique_key='message_id',
    post_hook="{{ cdp.delete_rows_gone_from_raw(source('raw', 'web_events')) }}",
) }}

with

{% if is_incremental() %}
-- Deliveries that left raw since this model last ran: an erased person, or a
-- re-delivered extract that replaced its earlier version.
removed_deliveries as (

    select message_id, user_id, anonymous_id
    from {{ this }} as previous
    where {{ cdp.raw_row_is_gone(source('raw', 'web_events'), 'previous') }}

),

-- Messages with a delivery loaded since the last run, plus every message of a
-- visitor who lost a delivery, so the models built on the visitor's events
-- (profiles, sessions) see the change. Raw rows are appended in load order, so
-- the filter on _loaded_at alone reads only the newest row groups. Each lookup
-- in removed_deliveries has a branch of its own, so DuckDB skips the scan of
-- raw when there are none.
changed_messages as (

    select {{ cdp.clean_text('message_id') }} as message_id
    from {{ source('raw', 'web_events') }}
    where _loaded_at > {{ cdp.incremental_watermark() }}
    union
    select {{ cdp.clean_text('message_id') }} as message_id
    from {{ source('raw', 'web_events') }}
    where {{ cdp.clean_text('user_id') }} in (select user_id from removed_deliveries)
    union
    select {{ cdp.clean_text('message_id') }} as message_id
    from {{ source('raw', 'web_events') }}
    where {{ cdp.clean_text('anonymous_id') }}
        in (select anonymous_id from removed_deliveries)
    union
    select message_id from removed_deliveries

),

-- Every delivery of a changed message. The deliveries are found on the narrow
-- message_id column and then read whole by DuckDB's rowid. DuckDB then reads the
-- JSON columns only of the row groups that contain them, mostly the newest ones. Trimming every message_id costs more than
-- the match, so only ids that start or end with a space or contain a non-ASCII
-- character are trimmed. DuckDB's trim() removes only Unicode space
-- separators, and U+0020 is the only ASCII one (checked on DuckDB 2.0.1). On
-- the 1,000,000-customer warehouse, whose message ids are all ASCII, the
-- length comparison took no measurable time.
changed_rowids as (

    select rowid as raw_rowid
    from {{ source('raw', 'web_events') }}
    where message_id in (select message_id from changed_messages)
    union all
    select rowid as raw_rowid
    from {{ source('raw', 'web_events') }}
    where (
            message_id like ' %' or message_id like '% '
            or strlen(message_id) != length(message_id)
        )
        and {{ cdp.clean_text('message_id') }}
            in (select message_id from changed_messages)

),

changed_raw_rows as (

    select * from {{ source('raw', 'web_events') }}
    where rowid in (select raw_rowid from changed_rowids)

),

{% endif %}
{#- The raw rows this run reads: all, or every delivery of a changed message. -#}
{%- set raw_rows = (
    'changed_raw_rows' if is_incremental() else source('raw', 'web_events')
) %}
-- Segment delivers each message at least once, possibly in several files and on
-- several days. A messageId sent by two different people (user id, or anonymous
-- id when there is no user id) is reused, not redelivered. Almost every message
-- has one raw row, so only messages with more rows are ranked. The ranking reads
-- a few narrow columns, and the wide JSON columns never pass through a window.
repeated_messages as (

    select {{ cdp.clean_text('message_id') }} as message_id
    from {{ raw_rows }}
    where {{ cdp.clean_text('message_id') }} is not null
    group by {{ cdp.clean_text('message_id') }}
    having count(*) > 1

),

repeated_deliveries as (

    select
        {{ cdp.clean_text('message_id') }} as message_id,
        coalesce(
            {{ dbt.concat(["'user:'", cdp.clean_text('user_id')]) }},
            {{ dbt.concat(["'anon:'", cdp.clean_text('anonymous_id')]) }}
        ) as sender_key,
        {{ cdp.parse_timestamp_utc('received_at') }} as received_at,
        _file,
        _row_number
    from {{ raw_rows }}
    where {{ cdp.clean_text('message_id') }}
        in (select message_id from repeated_messages)

),

-- The delivery received first is kept, so each person keeps their event.
ranked_deliveries as (

    select
        message_id,
        _file,
        _row_number,
        row_number() over (
            partition by message_id, sender_key
            order by received_at nulls last, _file, _row_number
        ) as delivery_rank
    from repeated_deliveries

),

delivery_ranks as (

    select
        _file,
        _row_number,
        delivery_rank,
        sum(case when delivery_rank = 1 then 1 else 0 end)
            over (partition by message_id) > 1 as has_reused_message_id
    from ranked_deliveries

),

-- _file and _row_number identify a raw row.
source as (

    select
        raw_rows.*,
        delivery_ranks.delivery_rank,
        delivery_ranks.has_reused_message_id
    from {{ raw_rows }} as raw_rows
    left join delivery_ranks
        on raw_rows._file = delivery_ranks._file
        and raw_rows._row_number = delivery_ranks._row_number

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
        {{ cdp.parse_timestamp_utc('original_timestamp') }}
            as original_timestamp,
        {{ cdp.parse_timestamp_utc('sent_at') }} as sent_at,
        {{ cdp.parse_timestamp_utc('received_at') }} as received_at,
        {{ cdp.parse_timestamp_utc('timestamp') }} as segment_timestamp,
        coalesce(delivery_rank, 1) as delivery_rank,
        coalesce(has_reused_message_id, false) as has_reused_message_id,
        _file,
        _row_number
    from source

),

-- occurred_at corrects the device clock with sentAt when all three times are
-- present. Without sentAt the device clock cannot be corrected, so receivedAt
-- is used. Segment's own timestamp and then originalTimestamp are the last
-- resorts, for exports without receivedAt.
timed as (

    select
        *,
        coalesce(
            {{ cdp.correct_clock_skew(
                'original_timestamp', 'sent_at', 'received_at'
            ) }},
            received_at,
            segment_timestamp,
            original_timestamp
        ) as occurred_at,
        coalesce(
            {{ dbt.concat(["'user:'", 'user_id']) }},
            {{ dbt.concat(["'anon:'", 'anonymous_id']) }}
        ) as sender_key
    from renamed
    where message_id is not null

),

deduplicated as (

    select * from timed
    where delivery_rank = 1

),

keyed as (

    select
        case
            when has_reused_message_id
                then {{ dbt.hash(dbt.concat([
                    'message_id', "'|'", "coalesce(sender_key, '')"
                ])) }}
            else message_id
        end as event_id,
        *
    from deduplicated

),

-- Person traits come from identify calls (traits) or from the traits a library
-- attaches to other calls (context.traits). Group calls describe a company.
-- json_texts extracts all paths of a document in one call.
{%- set context_paths = ['traits', 'page.url'] %}
{%- set trait_fields = {
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
} %}
{%- set trait_paths = [] %}
{%- for paths in trait_fields.values() %}{% do trait_paths.extend(paths) %}{% endfor %}
traits_extracted as (

    select
        *,
        case when event_type != 'group' then traits end as person_traits,
        {{ cdp.json_texts('context', context_paths) }} as context_texts
    from keyed

),

traits_located as (

    select
        *,
        {{ cdp.json_texts_at('context_texts', context_paths, 'traits') }}
            as context_traits,
        coalesce(
            {{ cdp.json_texts_at('context_texts', context_paths, 'page.url') }},
            {{ cdp.json_text('properties', 'url') }}
        ) as page_url,
        {{ cdp.json_texts('person_traits', trait_paths) }} as person_trait_texts
    from traits_extracted

),

traits_parsed as (

    select
        *,
        {{ cdp.json_texts('context_traits', trait_paths) }} as context_trait_texts
    from traits_located

),

traits_combined as (

    select
        *,
        {% for field, paths in trait_fields.items() %}
        coalesce(
            {%- for path in paths %}
            {{ cdp.json_texts_at('person_trait_texts', trait_paths, path) }},
            {{ cdp.json_texts_at('context_trait_texts', trait_paths, path) }}
            {{- ',' if not loop.last }}
            {%- endfor %}
        ) as raw_traits_{{ field }}{{ ',' if not loop.last }}
        {% endfor %}
    from traits_parsed

),

country_normalized as (

    select
        *,
        {{ cdp.normalize_country('raw_traits_country') }} as traits_country_code
    from traits_combined

),

final as (

    select
        event_id,
        message_id,
        has_reused_message_id,
        event_type,
        event_name,
        anonymous_id,
        user_id,
        occurred_at,
        original_timestamp,
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
        _row_number,
        {{ cdp.processed_at() }} as _processed_at
    from country_normalized

)

select * from final
