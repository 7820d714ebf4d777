{#
    Layer rules of the project, checked on the dbt graph. Returns one row per
    violation.

    - Only staging models call source().
    - No staging model refs another staging model.
    - A mart reads staging models of at most one source system (the folder under
      models/staging/). Work that combines sources belongs in intermediate, so
      each mart sees one cleaned view of it.
#}
{%- set violations = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name -%}
        {%- set layer = node.fqn[1] -%}
        {%- set staging_sources = [] -%}
        {%- for parent_id in node.depends_on.nodes -%}
            {%- if parent_id.startswith('source.') and layer != 'staging' -%}
                {%- do violations.append(node.name ~ ' (' ~ layer ~ ') calls source ' ~ parent_id) -%}
            {%- elif parent_id.startswith('model.')
                and graph.nodes[parent_id].fqn[1] == 'staging' -%}
                {%- if layer == 'staging' -%}
                    {%- do violations.append(node.name ~ ' (staging) refs staging model ' ~ parent_id) -%}
                {%- endif -%}
                {%- do staging_sources.append(graph.nodes[parent_id].fqn[2]) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set source_count = staging_sources | unique | list | length -%}
        {%- if layer == 'marts' and source_count > 1 -%}
            {%- do violations.append(
                node.name ~ ' (marts) reads staging models of several sources: '
                ~ staging_sources | unique | sort | join(', ')
            ) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}

{% for violation in violations %}
select '{{ violation }}' as violation
union all
{% endfor %}
select cast(null as {{ dbt.type_string() }}) as violation
where 1 = 0
