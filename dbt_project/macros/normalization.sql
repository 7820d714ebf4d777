{#
    Contact-field normalizers. They call the Python functions in
    ingestion/normalize.py, which ingestion/dbt_udfs.py registers on each DuckDB
    connection and ingestion/spark_udfs.py on the Spark session, under the same
    names. Another engine needs its own <adapter>__ implementation.
    Arguments are SQL expressions, e.g. cdp.normalize_phone('phone_number', "'DE'").
#}

{# Lower-cased, trimmed email address, or null when it is not a valid address. #}
{% macro normalize_email(expression) %}
    {{ return(adapter.dispatch('normalize_email', 'cdp')(expression)) }}
{% endmacro %}

{% macro default__normalize_email(expression) %}
    {{ cdp.raise_not_implemented('normalize_email') }}
{% endmacro %}

{% macro duckdb__normalize_email(expression) -%}
    cdp_normalize_email({{ expression }})
{%- endmacro %}

{% macro spark__normalize_email(expression) -%}
    cdp_normalize_email({{ expression }})
{%- endmacro %}


{# Phone number in E.164 form, or null when it is invalid. region is the ISO alpha-2
   country for numbers without a country code, or a candidate list such as
   'DE,AT,CH' (see ingestion.normalize.normalize_phone). #}
{% macro normalize_phone(expression, region) %}
    {{ return(adapter.dispatch('normalize_phone', 'cdp')(expression, region)) }}
{% endmacro %}

{% macro default__normalize_phone(expression, region) %}
    {{ cdp.raise_not_implemented('normalize_phone') }}
{% endmacro %}

{% macro duckdb__normalize_phone(expression, region) -%}
    cdp_normalize_phone({{ expression }}, {{ region }})
{%- endmacro %}

{% macro spark__normalize_phone(expression, region) -%}
    cdp_normalize_phone({{ expression }}, {{ region }})
{%- endmacro %}


{# Person or place name, trimmed, whitespace collapsed, display case. #}
{% macro normalize_name(expression) %}
    {{ return(adapter.dispatch('normalize_name', 'cdp')(expression)) }}
{% endmacro %}

{% macro default__normalize_name(expression) %}
    {{ cdp.raise_not_implemented('normalize_name') }}
{% endmacro %}

{% macro duckdb__normalize_name(expression) -%}
    cdp_normalize_name({{ expression }})
{%- endmacro %}

{% macro spark__normalize_name(expression) -%}
    cdp_normalize_name({{ expression }})
{%- endmacro %}


{# Postal code cleaned and, for digit-only countries (DE, AT, CH ...), validated. #}
{% macro normalize_postal_code(expression, country_code) %}
    {{ return(adapter.dispatch('normalize_postal_code', 'cdp')(expression, country_code)) }}
{% endmacro %}

{% macro default__normalize_postal_code(expression, country_code) %}
    {{ cdp.raise_not_implemented('normalize_postal_code') }}
{% endmacro %}

{% macro duckdb__normalize_postal_code(expression, country_code) -%}
    cdp_normalize_postal_code({{ expression }}, {{ country_code }})
{%- endmacro %}

{% macro spark__normalize_postal_code(expression, country_code) -%}
    cdp_normalize_postal_code({{ expression }}, {{ country_code }})
{%- endmacro %}


{# ISO 3166-1 alpha-2 code from a country name (English or German) or code. #}
{% macro normalize_country(expression) %}
    {{ return(adapter.dispatch('normalize_country', 'cdp')(expression)) }}
{% endmacro %}

{% macro default__normalize_country(expression) %}
    {{ cdp.raise_not_implemented('normalize_country') }}
{% endmacro %}

{% macro duckdb__normalize_country(expression) -%}
    cdp_normalize_country({{ expression }})
{%- endmacro %}

{% macro spark__normalize_country(expression) -%}
    cdp_normalize_country({{ expression }})
{%- endmacro %}


{# First and last name from a full name such as "Dr. Anna von Berg"; titles are
   dropped, and the last name starts at a particle (von, van, zu ...) or is the
   last word. #}
{% macro first_name_from_full_name(expression) %}
    {{ return(adapter.dispatch('first_name_from_full_name', 'cdp')(expression)) }}
{% endmacro %}

{% macro default__first_name_from_full_name(expression) %}
    {{ cdp.raise_not_implemented('first_name_from_full_name') }}
{% endmacro %}

{% macro duckdb__first_name_from_full_name(expression) -%}
    cdp_first_name_from_full_name({{ expression }})
{%- endmacro %}

{% macro spark__first_name_from_full_name(expression) -%}
    cdp_first_name_from_full_name({{ expression }})
{%- endmacro %}

{% macro last_name_from_full_name(expression) %}
    {{ return(adapter.dispatch('last_name_from_full_name', 'cdp')(expression)) }}
{% endmacro %}

{% macro default__last_name_from_full_name(expression) %}
    {{ cdp.raise_not_implemented('last_name_from_full_name') }}
{% endmacro %}

{% macro duckdb__last_name_from_full_name(expression) -%}
    cdp_last_name_from_full_name({{ expression }})
{%- endmacro %}

{% macro spark__last_name_from_full_name(expression) -%}
    cdp_last_name_from_full_name({{ expression }})
{%- endmacro %}


{# Region argument of normalize_phone: the record's country, or the candidate list of
   var phone_regions_without_country when the record states none. #}
{% macro phone_region(country_expression='null') -%}
    coalesce({{ country_expression }}, '{{ var("phone_regions_without_country") }}')
{%- endmacro %}
