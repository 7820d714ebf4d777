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

{#
    A URL without its query string and fragment ('https://shop.example/p?email=x#top'
    gives 'https://shop.example/p'). Query strings can carry an email address or a
    tracking token of one person, so the analytics models keep URLs this way only.
#}
{% macro url_without_query(url) %}
    {{ return(adapter.dispatch('url_without_query', 'cdp')(url)) }}
{% endmacro %}

{% macro default__url_without_query(url) %}
    {{ cdp.raise_not_implemented('url_without_query') }}
{% endmacro %}

{% macro duckdb__url_without_query(url) -%}
    nullif(regexp_replace({{ url }}, '[?#].*$', ''), '')
{%- endmacro %}


{#
    Path of a URL without host, query string and fragment
    ('https://shop.example/zelte?utm_source=x' gives '/zelte'); a relative URL
    keeps its path. Null for a blank URL.
#}
{% macro url_path(url) %}
    {{ return(adapter.dispatch('url_path', 'cdp')(url)) }}
{% endmacro %}

{% macro default__url_path(url) %}
    {{ cdp.raise_not_implemented('url_path') }}
{% endmacro %}

{% macro duckdb__url_path(url) -%}
    nullif(regexp_replace(
        regexp_replace({{ url }}, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''),
        '[?#].*$',
        ''
    ), '')
{%- endmacro %}

{% macro spark__url_without_query(url) -%}
    {{ cdp.duckdb__url_without_query(url) }}
{%- endmacro %}

{% macro spark__url_path(url) -%}
    {{ cdp.duckdb__url_path(url) }}
{%- endmacro %}
