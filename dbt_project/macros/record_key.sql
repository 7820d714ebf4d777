{# Identity record key: '<source>:<source record id>', e.g. 'shop_orders:#1001'.
   source_name is the raw table name, record_id a SQL expression. #}
{% macro record_key(source_name, record_id) -%}
    {{ dbt.concat(["'" ~ source_name ~ ":'", record_id]) }}
{%- endmacro %}
