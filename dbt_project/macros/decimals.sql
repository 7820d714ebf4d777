{#
    Decimal(precision, scale) from a double, rounded as DuckDB's cast rounds: the
    double times 10^scale, rounded half away from zero. Spark's cast rounds the
    double's shortest decimal text instead, which differs at half cents: the
    average 158.95 / 2 is the double 79.474999999999994, which DuckDB casts to
    79.47 and Spark to 79.48.
#}
{% macro double_to_decimal(expression, precision, scale) %}
    {{ return(adapter.dispatch('double_to_decimal', 'cdp')(expression, precision, scale)) }}
{% endmacro %}

{% macro default__double_to_decimal(expression, precision, scale) -%}
    cast({{ expression }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro spark__double_to_decimal(expression, precision, scale) -%}
    {%- set factor = 10 ** scale -%}
    cast(
        cast(round(cast({{ expression }} as double) * {{ factor }}) as decimal(38, 0)) / {{ factor }}
        as decimal({{ precision }}, {{ scale }})
    )
{%- endmacro %}
