{#
    Event time corrected for the device clock, as Segment computes its
    timestamp: received_at - (sent_at - original_timestamp). The result is late
    by the network delay between sending and receiving, which is taken as
    negligible. Takes three UTC timestamp expressions and is null when any of
    them is null.
#}
{% macro correct_clock_skew(original_timestamp, sent_at, received_at) %}
    {{ return(adapter.dispatch('correct_clock_skew', 'cdp')(
        original_timestamp, sent_at, received_at
    )) }}
{% endmacro %}

{% macro default__correct_clock_skew(
    original_timestamp, sent_at, received_at
) %}
    {{ cdp.raise_not_implemented('correct_clock_skew') }}
{% endmacro %}

{# timestamp - timestamp is an interval in DuckDB, kept to the microsecond. #}
{% macro duckdb__correct_clock_skew(
    original_timestamp, sent_at, received_at
) -%}
    {{ received_at }} - ({{ sent_at }} - {{ original_timestamp }})
{%- endmacro %}

{# Microseconds since the epoch, so the result keeps DuckDB's precision. #}
{% macro spark__correct_clock_skew(
    original_timestamp, sent_at, received_at
) -%}
    timestamp_micros(
        unix_micros({{ received_at }})
        - (unix_micros({{ sent_at }}) - unix_micros({{ original_timestamp }}))
    )
{%- endmacro %}
