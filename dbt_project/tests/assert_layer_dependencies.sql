{#
    Layer rules of the project, checked on the dbt graph. Returns one row per
    violation.

    - Only staging models call source().
    - No staging model refs another staging model.
    - A mart reads staging models of at most one source system (the folder under
      models/staging/). Work that combines sources belongs in intermediate, so
      each mart sees one cleaned view of it.

    Marts that break the third rule for now are listed below with the reason. An
    entry that no longer breaks the rule is itself reported, so the list shrinks.
#}
{%- set multi_source_marts = {
    'customer_timeline':
        'reads stg_social__leads and stg_crm__contacts for the lead-form and'
        ~ ' contact-creation touchpoints; an intermediate model with those two'
        ~ ' touchpoint kinds per record_key would remove this entry',
} -%}
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
        {%- if layer == 'marts' and source_count > 1
            and node.name not in multi_source_marts -%}
            {%- do violations.append(
                node.name ~ ' (marts) reads staging models of several sources: '
                ~ staging_sources | unique | sort | join(', ')
            ) -%}
        {%- elif layer == 'marts' and source_count <= 1
            and node.name in multi_source_marts -%}
            {%- do violations.append(
                node.name ~ ' (marts) reads at most one source; remove it from'
                ~ ' multi_source_marts'
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
