{#
    Parsers from exported text to typed values. Each takes a SQL expression over a
    VARCHAR column. Engine-specific parsing (strptime formats, time zones, JSON)
    sits in the duckdb__ implementations.
#}

{# Trimmed text, or null when the value is blank. #}
{% macro clean_text(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}


{# Boolean from the yes/no spellings of the exports (true/false, yes/no, ja/nein,
   1/0); null for blanks and anything else. #}
{% macro parse_boolean(expression) -%}
    case
        when lower(trim({{ expression }})) in ('true', 't', 'yes', 'y', 'ja', 'j', '1', 'x')
            then true
        when lower(trim({{ expression }})) in ('false', 'f', 'no', 'n', 'nein', '0')
            then false
    end
{%- endmacro %}


{# Decimal from text with a dot or a comma as decimal separator ("49.90", "49,90").
   A comma next to a dot is read as a thousands separator ("1,049.90"). #}
{% macro parse_decimal(expression, precision=18, scale=2) -%}
    {%- set text = "trim(" ~ expression ~ ")" -%}
    {%- set normalized -%}
        case
            when {{ text }} like '%,%' and {{ text }} not like '%.%'
                then replace({{ text }}, ',', '.')
            else replace({{ text }}, ',', '')
        end
    {%- endset -%}
    {{ dbt.safe_cast(normalized, "decimal(" ~ precision ~ ", " ~ scale ~ ")") }}
{%- endmacro %}


{#
    UTC timestamp (without time zone) from the timestamp formats of the exports:
    ISO 8601 with "Z" or an offset, Shopify's "2025-06-01 10:15:00 +0200", Unix
    epoch seconds, and local times without an offset, which are read in
    local_time_zone (an IANA name such as 'Europe/Berlin'). Null when unparsable.
#}
{% macro parse_timestamp_utc(expression, local_time_zone='UTC') %}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'cdp')(expression, local_time_zone)) }}
{% endmacro %}

{% macro default__parse_timestamp_utc(expression, local_time_zone) %}
    {{ cdp.raise_not_implemented('parse_timestamp_utc') }}
{% endmacro %}

{% macro duckdb__parse_timestamp_utc(expression, local_time_zone) -%}
    {%- set text = "trim(" ~ expression ~ ")" -%}
    case
        when regexp_matches({{ text }}, '\d:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$')
            then timezone('UTC', coalesce(
                try_cast({{ text }} as timestamptz),
                try_strptime({{ text }}, ['%Y-%m-%d %H:%M:%S %z', '%Y-%m-%d %H:%M %z'])
            ))
        when regexp_matches({{ text }}, '^\d{9,10}(\.\d+)?$')
            then timezone('UTC', to_timestamp(cast({{ text }} as double)))
        else timezone('UTC', timezone('{{ local_time_zone }}', coalesce(
            try_cast({{ text }} as timestamp),
            try_strptime({{ text }}, [
                '%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M', '%d.%m.%Y', '%Y/%m/%d %H:%M:%S'
            ])
        )))
    end
{%- endmacro %}

{#
    Spark reads text without an offset in the session time zone, which
    orchestration/spark_session.py sets to UTC. Its cast to timestamp reads more
    layouts than DuckDB's ('2026', '2026-01', a space before the offset), so the
    regular expressions admit only what the DuckDB casts read. Single-letter patterns read one or two digits, as DuckDB's
    strptime does. NOTE: DuckDB's strptime also reads a two-digit year for %Y
    ('12.04.85' as year 85); Spark returns null for it.
#}
{% macro spark__parse_timestamp_utc(expression, local_time_zone) -%}
    {%- set text = "trim(" ~ expression ~ ")" -%}
    {%- set local_time -%}
        coalesce(
            case
                when {{ text }} rlike r'^\d{4}-\d{1,2}-\d{1,2}([ T]|$)'
                    then try_cast({{ text }} as timestamp)
            end,
            try_to_timestamp({{ text }}, 'd.M.yyyy H:m:s'),
            try_to_timestamp({{ text }}, 'd.M.yyyy H:m'),
            try_to_timestamp({{ text }}, 'd.M.yyyy'),
            try_to_timestamp({{ text }}, 'yyyy/M/d H:m:s')
        )
    {%- endset -%}
    case
        when {{ text }} rlike r'\d:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$'
            then coalesce(
                case
                    when {{ text }} rlike r'\d(Z|[+-]\d{2}(:?\d{2})?)$'
                        then try_cast({{ text }} as timestamp)
                end,
                try_to_timestamp({{ text }}, 'yyyy-M-d H:m:s xx'),
                try_to_timestamp({{ text }}, 'yyyy-M-d H:m:s xxx'),
                try_to_timestamp({{ text }}, 'yyyy-M-d H:m xx'),
                try_to_timestamp({{ text }}, 'yyyy-M-d H:m xxx')
            )
        when {{ text }} rlike r'^\d{9,10}(\.\d+)?$'
            then timestamp_seconds(cast({{ text }} as decimal(20, 6)))
        else {{ cdp.spark_local_to_utc(local_time, local_time_zone) }}
    end
{%- endmacro %}

{#
    UTC time of a wall-clock time in time_zone. In the hour that occurs twice when
    summer time ends, DuckDB takes the second occurrence (standard time) and Spark's
    to_utc_timestamp the first, so the later instant is used when the wall-clock
    time maps to it as well. The offset after the change is read three hours after
    the first instant. A time that does not exist (when summer time starts) moves
    forward on both engines. transform() over a one-element array names the parsed
    time, so Spark parses the text once although the expression reads it often.
#}
{% macro spark_local_to_utc(local_time, time_zone) -%}
    {%- if time_zone == 'UTC' -%}
        {{ local_time }}
    {%- else -%}
        {%- set first = "to_utc_timestamp(wall_clock, '" ~ time_zone ~ "')" -%}
        {%- set probe = "timestampadd(hour, 3, " ~ first ~ ")" -%}
        {%- set later -%}
            timestamp_micros(unix_micros(wall_clock) - (
                unix_micros(from_utc_timestamp({{ probe }}, '{{ time_zone }}'))
                - unix_micros({{ probe }})
            ))
        {%- endset -%}
        transform(array({{ local_time }}), wall_clock ->
            case
                when {{ later }} > {{ first }}
                    and from_utc_timestamp({{ later }}, '{{ time_zone }}') = wall_clock
                    then {{ later }}
                else {{ first }}
            end
        )[0]
    {%- endif -%}
{%- endmacro %}


{# Date from ISO (1985-04-12), German (12.04.1985) or day-first slash (12/04/1985)
   text; null when unparsable. #}
{% macro parse_date(expression) %}
    {{ return(adapter.dispatch('parse_date', 'cdp')(expression)) }}
{% endmacro %}

{% macro default__parse_date(expression) %}
    {{ cdp.raise_not_implemented('parse_date') }}
{% endmacro %}

{% macro duckdb__parse_date(expression) -%}
    cast(coalesce(
        try_cast(trim({{ expression }}) as timestamp),
        try_strptime(trim({{ expression }}), ['%d.%m.%Y', '%d/%m/%Y', '%Y%m%d'])
    ) as date)
{%- endmacro %}

{% macro spark__parse_date(expression) -%}
    {%- set text = "trim(" ~ expression ~ ")" -%}
    cast(coalesce(
        case
            when {{ text }} rlike r'^\d{4}-\d{1,2}-\d{1,2}([ T]|$)'
                then try_cast({{ text }} as timestamp)
        end,
        try_to_timestamp({{ text }}, 'd.M.yyyy'),
        try_to_timestamp({{ text }}, 'd/M/yyyy'),
        try_to_timestamp({{ text }}, 'yyyyMMdd')
    ) as date)
{%- endmacro %}


{# Text at a dotted path ('address.city') inside a JSON document stored as text;
   null when the document is not valid JSON or the path is missing. #}
{% macro json_text(expression, path) %}
    {{ return(adapter.dispatch('json_text', 'cdp')(expression, path)) }}
{% endmacro %}

{% macro default__json_text(expression, path) %}
    {{ cdp.raise_not_implemented('json_text') }}
{% endmacro %}

{% macro duckdb__json_text(expression, path) -%}
    case
        when json_valid({{ expression }})
            then nullif(trim(json_extract_string({{ expression }}, '$.{{ path }}')), '')
    end
{%- endmacro %}

{# get_json_object returns null for text that is not valid JSON. #}
{% macro spark__json_text(expression, path) -%}
    nullif(trim(get_json_object({{ expression }}, '$.{{ path }}')), '')
{%- endmacro %}


{# The text at each of several dotted paths of a JSON document stored as text, as
   one array in the order of `paths`. Read a value with json_texts_at, which gives
   the same result as json_text for that path. On DuckDB this parses the document
   twice in all, where json_text parses it twice per path. #}
{% macro json_texts(expression, paths) %}
    {{ return(adapter.dispatch('json_texts', 'cdp')(expression, paths)) }}
{% endmacro %}

{% macro default__json_texts(expression, paths) %}
    {{ cdp.raise_not_implemented('json_texts') }}
{% endmacro %}

{# json_extract_string with a list of paths returns a list; null for invalid JSON. #}
{% macro duckdb__json_texts(expression, paths) -%}
    case
        when json_valid({{ expression }})
            then json_extract_string({{ expression }}, [
                {%- for path in paths -%}
                '$.{{ path }}'{{ ', ' if not loop.last }}
                {%- endfor -%}
            ])
    end
{%- endmacro %}

{% macro spark__json_texts(expression, paths) -%}
    array(
        {%- for path in paths %}
        get_json_object({{ expression }}, '$.{{ path }}'){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}


{# The value of `path` in `texts`, an array that json_texts built from `paths`:
   trimmed text, null when blank or missing. #}
{% macro json_texts_at(texts, paths, path) %}
    {{ return(adapter.dispatch('json_texts_at', 'cdp')(texts, paths.index(path) + 1)) }}
{% endmacro %}

{% macro default__json_texts_at(texts, position) %}
    {{ cdp.raise_not_implemented('json_texts_at') }}
{% endmacro %}

{% macro duckdb__json_texts_at(texts, position) -%}
    nullif(trim({{ texts }}[{{ position }}]), '')
{%- endmacro %}

{% macro spark__json_texts_at(texts, position) -%}
    nullif(trim(element_at({{ texts }}, {{ position }})), '')
{%- endmacro %}


{# True when the text matches a regular expression (not anchored; use ^ and $). #}
{% macro regexp_like(expression, pattern) %}
    {{ return(adapter.dispatch('regexp_like', 'cdp')(expression, pattern)) }}
{% endmacro %}

{% macro default__regexp_like(expression, pattern) -%}
    regexp_like({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regexp_like(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{# A raw string literal, because Spark reads backslashes in '...' as escapes. #}
{% macro spark__regexp_like(expression, pattern) -%}
    {{ expression }} rlike r'{{ pattern }}'
{%- endmacro %}
