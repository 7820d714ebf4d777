{#
    One row per customer and segment the customer belongs to, over every model in
    models/marts/segments/. segment_name is the model name without the segment_
    prefix, segment_owner the owner in the segment's meta.

    dbt records a model's parents while parsing its SQL, before the `graph`
    variable holds any node, so a loop over the graph cannot create the refs that
    make this model run after each segment. The list below creates them. When the
    model runs, it compares the list with the models in the segments folder and
    fails with the names that differ, so a new segment cannot be left out.
#}
{%- set segment_models = [
    'segment_browse_abandoners',
    'segment_champions',
    'segment_churn_risk_high_value',
    'segment_engaged_non_buyers',
    'segment_high_predicted_clv',
    'segment_high_value_customers',
    'segment_lapsed_buyers',
    'segment_new_customers',
    'segment_one_time_buyers',
    'segment_unhappy_customers',
] -%}

{%- set owners = {} -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.fqn[1:3] == ['marts', 'segments'] -%}
            {%- do owners.update({node.name: node.config.meta.get('owner')}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set unlisted = owners.keys() | reject('in', segment_models) | sort -%}
    {%- set outside_folder = segment_models | reject('in', owners.keys() | list) | list -%}
    {%- if unlisted or outside_folder -%}
        {{ exceptions.raise_compiler_error(
            "The list segment_models in models/marts/memberships/segment_memberships.sql "
            ~ "does not match the models in models/marts/segments/. Missing from the list: "
            ~ (unlisted | join(', ') or 'none') ~ ". Not in the folder: "
            ~ (outside_folder | join(', ') or 'none') ~ "."
        ) }}
    {%- endif -%}
{%- endif %}

with
{% for model_name in segment_models %}
{{ model_name }} as (

    select * from {{ ref(model_name) }}

),
{% endfor %}
final as (
    {%- for model_name in segment_models %}
    {%- set owner = owners.get(model_name) %}

    select
        customer_id,
        {{ dbt.string_literal(model_name | replace('segment_', '', 1)) }} as segment_name,
        {{ dbt.string_literal(owner) if owner else 'null' }} as segment_owner
    from {{ model_name }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

)

select * from final
