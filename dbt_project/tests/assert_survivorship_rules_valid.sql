-- Fails with one row per problem in the seed survivorship_rules: a golden-record
-- field without a rule, a field group whose fields disagree on strategy or source
-- order, or a name in source_priority that is not a source of int_person_records.
-- The test reads the first max_listed_sources names of a list and flags longer
-- lists.
{% set known_sources = [
    'crm_contacts', 'shop_orders', 'web_events', 'email_activity',
    'helpdesk_tickets', 'social_leads',
] %}
{% set max_listed_sources = 12 %}
with

rules as (

    select
        field,
        coalesce(field_group, field) as field_group,
        strategy,
        {{ dbt.replace('source_priority', "' '", "''") }} as source_priority
    from {{ ref('survivorship_rules') }}

),

golden_record_fields as (

    {% for field in cdp.golden_record_fields() %}
    select '{{ field }}' as field
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

fields_without_rule as (

    select
        golden_record_fields.field as subject,
        'golden-record field has no rule' as problem
    from golden_record_fields
    left join rules
        on golden_record_fields.field = rules.field
    where rules.field is null

),

inconsistent_groups as (

    select
        field_group as subject,
        'fields of the group differ in strategy or source_priority' as problem
    from rules
    group by field_group
    having count(distinct strategy) > 1
        or count(distinct coalesce(source_priority, '')) > 1

),

listed_sources as (

    {% for part in range(1, max_listed_sources + 1) %}
    select
        field,
        {{ dbt.split_part('source_priority', "'>'", part) }} as source
    from rules
    where source_priority is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

unknown_sources as (

    select
        {{ dbt.concat(['field', "': '", 'source']) }} as subject,
        'source_priority names an unknown source' as problem
    from listed_sources
    where source != ''
        and source not in ('{{ known_sources | join("', '") }}')

),

long_lists as (

    select
        field as subject,
        'source_priority lists more than {{ max_listed_sources }} sources'
            as problem
    from rules
    where
        {{ dbt.split_part('source_priority', "'>'", max_listed_sources + 1) }}
        != ''

),

final as (

    select * from fields_without_rule
    union all
    select * from inconsistent_groups
    union all
    select * from unknown_sources
    union all
    select * from long_lists

)

select * from final
