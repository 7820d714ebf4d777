{#
    Lower-cased host of an absolute URL ('https://www.google.de/search?q=x' gives
    'www.google.de'); null for a relative or blank URL.
#}
{% macro url_host(url) %}
    {{ return(adapter.dispatch('url_host', 'cdp')(url)) }}
{% endmacro %}

{% macro default__url_host(url) %}
    {{ cdp.raise_not_implemented('url_host') }}
{% endmacro %}

{% macro duckdb__url_host(url) -%}
    nullif(lower(regexp_extract({{ url }}, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)), '')
{%- endmacro %}

{# Spark's regexp_extract also returns '' when the pattern does not match. #}
{% macro spark__url_host(url) -%}
    nullif(lower(regexp_extract({{ url }}, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)), '')
{%- endmacro %}


{#
    Value of a query parameter of a URL ('utm_source' of
    '/?utm_source=newsletter&utm_medium=email' is 'newsletter'), not URL-decoded;
    null when the parameter is missing or empty. parameter_name is a literal.
#}
{% macro url_query_parameter(url, parameter_name) %}
    {{ return(adapter.dispatch('url_query_parameter', 'cdp')(url, parameter_name)) }}
{% endmacro %}

{% macro default__url_query_parameter(url, parameter_name) %}
    {{ cdp.raise_not_implemented('url_query_parameter') }}
{% endmacro %}

{% macro duckdb__url_query_parameter(url, parameter_name) -%}
    nullif(regexp_extract({{ url }}, '[?&]{{ parameter_name }}=([^&#]*)', 1), '')
{%- endmacro %}

{% macro spark__url_query_parameter(url, parameter_name) -%}
    nullif(regexp_extract({{ url }}, '[?&]{{ parameter_name }}=([^&#]*)', 1), '')
{%- endmacro %}
