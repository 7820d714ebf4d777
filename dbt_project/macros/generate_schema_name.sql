{#
    Use a model's custom schema (+schema in dbt_project.yml) as the schema name
    itself, so models land in staging, intermediate and marts rather than dbt's
    default <target schema>_<custom schema>. Nodes without one use the target's
    schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
