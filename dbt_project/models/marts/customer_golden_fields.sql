-- One row per known customer and golden-record field that has a value: the value
-- that survives under the rules in the seed survivorship_rules, and the record
-- that supplied it. All fields of one field_group come from the same record.
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

survivorship_rules as (

    select * from {{ ref('survivorship_rules') }}

),

rules as (

    select
        field,
        coalesce(field_group, field) as field_group,
        strategy,
        {{ dbt.replace('source_priority', "' '", "''") }} as source_priority,
        coalesce(is_required_in_group, true) as is_required_in_group
    from survivorship_rules

),

-- One row per record and field, with the value as text so that one column
-- contains every field.
field_values as (

    {% for field in cdp.golden_record_fields() %}
    select
        customer_id,
        record_key,
        source,
        observed_at,
        '{{ field }}' as field,
        cast({{ field }} as {{ dbt.type_string() }}) as field_value
    from customer_records
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- One row per record and field group. group_value joins the group's values, so
-- records with the same address get the same group_value. The data test
-- assert_survivorship_rules_valid checks that all fields of a group share one
-- strategy and source list, so min() takes the group's only value.
record_groups as (

    select
        field_values.customer_id,
        field_values.record_key,
        field_values.source,
        field_values.observed_at,
        rules.field_group,
        min(rules.strategy) as strategy,
        min(rules.source_priority) as source_priority,
        count(field_values.field_value) as value_count,
        {{ cdp.count_if(
            'rules.is_required_in_group and field_values.field_value is null'
        ) }} as missing_required_count,
        {{ dbt.listagg(
            "coalesce(field_values.field_value, '')", "'|'", 'order by rules.field'
        ) }} as group_value
    from field_values
    inner join rules
        on field_values.field = rules.field
    group by
        field_values.customer_id,
        field_values.record_key,
        field_values.source,
        field_values.observed_at,
        rules.field_group

),

-- Records without any value in the group do not compete. priority_position is
-- the source's character offset in '>' || source_priority || '>', so it orders
-- the listed sources as written, and 0 means the source is not listed.
candidates as (

    select
        *,
        {{ dbt.position(
            dbt.concat(["'>'", 'source', "'>'"]),
            dbt.concat(["'>'", 'source_priority', "'>'"]),
        ) }} as priority_position,
        count(*) over (
            partition by customer_id, field_group, group_value
        ) as value_frequency
    from record_groups
    where value_count > 0

),

-- Records with every required field of the group rank first. Within that tier,
-- source_priority ranks by the listed order (unlisted sources last), and
-- most_frequent by how many records carry the same value. Every strategy then
-- prefers the most recently observed record, then the smallest record_key.
ranked as (

    select
        *,
        row_number() over (
            partition by customer_id, field_group
            order by
                case when missing_required_count = 0 then 0 else 1 end,
                case
                    when strategy = 'source_priority' and priority_position = 0
                        then 1
                    else 0
                end,
                case
                    when strategy = 'source_priority' then priority_position
                    else 0
                end,
                case
                    when strategy = 'most_frequent' then value_frequency
                    else 0
                end desc,
                observed_at desc nulls last,
                record_key
        ) as survivorship_rank
    from candidates

),

survivors as (

    select * from ranked where survivorship_rank = 1

),

final as (

    select
        survivors.customer_id,
        rules.field,
        rules.field_group,
        field_values.field_value,
        survivors.strategy,
        survivors.record_key,
        survivors.source,
        survivors.observed_at
    from survivors
    inner join rules
        on survivors.field_group = rules.field_group
    inner join field_values
        on survivors.record_key = field_values.record_key
        and rules.field = field_values.field
    where field_values.field_value is not null

)

select * from final
