{#
    Tables of models this project no longer has. dbt leaves a removed model's
    table in the warehouse, so a warehouse built before the removal keeps a copy
    that nothing updates or reads. Each run drops the ones listed here, with the
    model that replaced them:
    - marts.event_pseudonyms: replaced by marts.pseudonymized_events, which
      keeps every column of analytics.events.
    NOTE: DuckDB only. A Spark catalog built while such a model existed keeps its
    table; drop it there by hand.
#}
{% macro drop_retired_relations() -%}
    {%- if target.type == 'duckdb' -%}
        {%- for schema, table in [('marts', 'event_pseudonyms')] %}
    drop table if exists {{ schema }}.{{ table }};
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}
