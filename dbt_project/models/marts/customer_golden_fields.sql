-- One row per known customer and golden-record field that has a value: the value
-- that survives under the rules in the seed survivorship_rules, and the record
-- that supplied it. All fields of one field_group come from the same record.
-- Incremental: a customer is computed again when its records or the survivorship
-- rules no longer match the fingerprint stored in its rows. The post-hook deletes
-- rows of customers that are gone or have no value left. A table from before the
-- fingerprint column gets it empty, so its next run computes every customer.
{{ cdp.incremental_config(
    unique_key='customer_id',
    on_schema_change='append_new_columns',
    post_hook="{{ cdp.delete_golden_fields_of_changed_inputs() }}",
) }}
{%- set fields = cdp.golden_record_fields() | list | sort %}
with

input_fingerprints as (

    {{ cdp.golden_record_input_fingerprints() }}

),

{% if is_incremental() %}
-- New customers, and customers whose inputs changed since their rows were written.
changed_customers as (

    {{ cdp.customers_with_changed_fingerprints(
        'input_fingerprints', 'inputs_fingerprint', '_inputs_fingerprint'
    ) }}

),

{% endif %}
customer_records as (

    select * from {{ ref('customer_source_records') }}
    {% if is_incremental() %}
    where customer_id in (select customer_id from changed_customers)
    {% endif %}

),

survivorship_rules as (

    select * from {{ ref('survivorship_rules') }}

),

-- Rules of fields that customer_source_records has a column for.
rules as (

    select
        field,
        coalesce(field_group, field) as field_group,
        strategy,
        {{ dbt.replace('source_priority', "' '", "''") }} as source_priority,
        coalesce(is_required_in_group, true) as is_required_in_group
    from survivorship_rules
    where field in ('{{ fields | join("', '") }}')

),

-- One row with each field's group and whether the group requires the field.
field_settings as (

    select
        {% for field in fields %}
        max(case when field = '{{ field }}' then field_group end)
            as {{ field }}__group,
        max(case when field = '{{ field }}' and is_required_in_group then 1 else 0 end)
            as {{ field }}__required{% if not loop.last %},{% endif %}
        {% endfor %}
    from rules

),

-- The data test assert_survivorship_rules_valid checks that all fields of a
-- group share one strategy and source list, so min() takes the group's only
-- value.
field_groups as (

    select
        field_group,
        min(strategy) as strategy,
        min(source_priority) as source_priority
    from rules
    group by field_group

),

-- One row per record and field group, computed from the record's row. Unpivoting
-- every field and aggregating with an ordered listagg took 13 of the model's 24
-- CPU seconds at 100,000 customers. group_value joins the group's values in the
-- order of the field names, each after a '|', so records with the same address
-- get the same group_value.
record_groups as (

    select
        customer_records.customer_id,
        customer_records.record_key,
        customer_records.source,
        customer_records.observed_at,
        field_groups.field_group,
        field_groups.strategy,
        field_groups.source_priority,
        {% for field in fields %}
        case
            when field_settings.{{ field }}__group = field_groups.field_group
                and customer_records.{{ field }} is not null
                then 1
            else 0
        end{% if not loop.last %} +{% endif %}
        {% endfor %} as value_count,
        {% for field in fields %}
        case
            when field_settings.{{ field }}__group = field_groups.field_group
                and field_settings.{{ field }}__required = 1
                and customer_records.{{ field }} is null
                then 1
            else 0
        end{% if not loop.last %} +{% endif %}
        {% endfor %} as missing_required_count,
        {%- set parts = [] %}
        {%- for field in fields %}
            {%- do parts.append(
                "case when field_settings." ~ field ~ "__group"
                ~ " = field_groups.field_group then " ~ dbt.concat([
                    "'|'",
                    "coalesce(cast(customer_records." ~ field ~ " as "
                    ~ dbt.type_string() ~ "), '')",
                ])
                ~ " else '' end"
            ) %}
        {%- endfor %}
        {{ dbt.concat(parts) }} as group_value
    from customer_records
    cross join field_settings
    cross join field_groups

),

-- Records without any value in the group do not compete.
competing_groups as (

    select * from record_groups where value_count > 0

),

-- How many of the customer's competing records carry the same value. At 100,000
-- customers this GROUP BY and its join took 1.3 CPU seconds, and a window
-- function partitioned by the value 4 to 8.
value_frequencies as (

    select
        customer_id,
        field_group,
        group_value,
        count(*) as value_frequency
    from competing_groups
    group by customer_id, field_group, group_value

),

-- priority_position is the source's character offset in
-- '>' || source_priority || '>', so it orders the listed sources as written, and
-- 0 means the source is not listed.
candidates as (

    select
        competing_groups.customer_id,
        competing_groups.record_key,
        competing_groups.source,
        competing_groups.observed_at,
        competing_groups.field_group,
        competing_groups.strategy,
        competing_groups.missing_required_count,
        {{ dbt.position(
            dbt.concat(["'>'", 'competing_groups.source', "'>'"]),
            dbt.concat(["'>'", 'competing_groups.source_priority', "'>'"]),
        ) }} as priority_position,
        value_frequencies.value_frequency
    from competing_groups
    inner join value_frequencies
        on competing_groups.customer_id = value_frequencies.customer_id
        and competing_groups.field_group = value_frequencies.field_group
        and competing_groups.group_value = value_frequencies.group_value

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

survivor_values as (

    select
        survivors.customer_id,
        rules.field,
        rules.field_group,
        case rules.field
            {% for field in fields %}
            when '{{ field }}'
                then cast(customer_records.{{ field }} as {{ dbt.type_string() }})
            {% endfor %}
        end as field_value,
        survivors.strategy,
        survivors.record_key,
        survivors.source,
        survivors.observed_at
    from survivors
    inner join rules
        on survivors.field_group = rules.field_group
    inner join customer_records
        on survivors.record_key = customer_records.record_key

),

final as (

    select
        survivor_values.*,
        input_fingerprints.inputs_fingerprint as _inputs_fingerprint,
        {{ cdp.processed_at() }} as _processed_at
    from survivor_values
    left join input_fingerprints
        on survivor_values.customer_id = input_fingerprints.customer_id
    where survivor_values.field_value is not null

)

select * from final
