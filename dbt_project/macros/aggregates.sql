{#
    Value of a column on the row with the smallest (min_by_non_null) or largest
    (max_by_non_null) order_by, ignoring rows where the column is null. Used for
    "latest known value" lookups. Ties in order_by give an arbitrary row, so
    callers pass a unique ordering.
#}
{% macro min_by_non_null(column, order_by) %}
    {{ return(adapter.dispatch('min_by_non_null', 'cdp')(column, order_by)) }}
{% endmacro %}

{% macro default__min_by_non_null(column, order_by) -%}
    min_by({{ column }}, {{ order_by }}) filter (where {{ column }} is not null)
{%- endmacro %}

{% macro duckdb__min_by_non_null(column, order_by) -%}
    arg_min({{ column }}, {{ order_by }}) filter (where {{ column }} is not null)
{%- endmacro %}


{% macro max_by_non_null(column, order_by) %}
    {{ return(adapter.dispatch('max_by_non_null', 'cdp')(column, order_by)) }}
{% endmacro %}

{% macro default__max_by_non_null(column, order_by) -%}
    max_by({{ column }}, {{ order_by }}) filter (where {{ column }} is not null)
{%- endmacro %}

{% macro duckdb__max_by_non_null(column, order_by) -%}
    arg_max({{ column }}, {{ order_by }}) filter (where {{ column }} is not null)
{%- endmacro %}


{# Hash of several columns, nulls included, as one key column. #}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_null_')"
        ) -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}


{#
    Fingerprint of a set of rows: a 64-bit hash of each row's `columns`, combined
    with XOR, so the order of the rows does not matter, followed by the row count.
    Two equal rows cancel out in the XOR, so include a key in `columns`; the count
    still tells one copy of a row from three. Returned as text, so it has one type
    on every engine.
    NOTE: two different sets of rows share a fingerprint with a chance of about
    one in 2^64, and an incremental model would then keep their stale rows.
#}
{% macro rows_fingerprint(columns) %}
    {{ return(adapter.dispatch('rows_fingerprint', 'cdp')(columns)) }}
{% endmacro %}

{% macro default__rows_fingerprint(columns) -%}
    {{ dbt.concat([
        'cast(bit_xor(xxhash64(' ~ columns | join(', ') ~ ')) as ' ~ dbt.type_string() ~ ')',
        "':'",
        'cast(count(*) as ' ~ dbt.type_string() ~ ')',
    ]) }}
{%- endmacro %}

{# DuckDB's hash of several values XORs in the hash of the last one, so two rows
   whose last column changed to the same new value would cancel that change out.
   Hashing the row hash again mixes it first. #}
{% macro duckdb__rows_fingerprint(columns) -%}
    {{ dbt.concat([
        'cast(bit_xor(hash(hash(' ~ columns | join(', ') ~ '))) as ' ~ dbt.type_string() ~ ')',
        "':'",
        'cast(count(*) as ' ~ dbt.type_string() ~ ')',
    ]) }}
{%- endmacro %}
