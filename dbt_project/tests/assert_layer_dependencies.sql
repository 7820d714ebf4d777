{#
    Layer rules of the project, checked on the dbt graph: only staging models call
    source(), and no staging model refs another staging model. Returns one row per
    violation.
#}
{%- set violations = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- set layer = node.fqn[1] -%}
        {%- for parent_id in node.depends_on.nodes -%}
            {%- if parent_id.startswith('source.') and layer != 'staging' -%}
                {%- do violations.append(node.name ~ ' (' ~ layer ~ ') calls source ' ~ parent_id) -%}
            {%- elif layer == 'staging' and parent_id.startswith('model.')
                and graph.nodes[parent_id].fqn[1] == 'staging' -%}
                {%- do violations.append(node.name ~ ' (staging) refs staging model ' ~ parent_id) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}

{% for violation in violations %}
select '{{ violation }}' as violation
union all
{% endfor %}
select cast(null as {{ dbt.type_string() }}) as violation
where 1 = 0
