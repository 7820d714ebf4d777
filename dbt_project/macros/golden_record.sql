{#
    Golden-record fields of dim_customers and the SQL type of each. Every field
    needs one row in the seed survivorship_rules, and customer_source_records
    must have a column of the same name.
#}
{% macro golden_record_fields() %}
    {{ return({
        'email': dbt.type_string(),
        'phone': dbt.type_string(),
        'first_name': dbt.type_string(),
        'last_name': dbt.type_string(),
        'street': dbt.type_string(),
        'postal_code': dbt.type_string(),
        'city': dbt.type_string(),
        'country_code': dbt.type_string(),
        'birth_date': 'date',
    }) }}
{% endmacro %}


{#
    Query of each known customer's fingerprint of what customer_golden_fields reads:
    the customer's rows in customer_source_records and the survivorship rules.
#}
{% macro golden_record_input_fingerprints() -%}
    select
        records.customer_id,
        {{ dbt.concat([
            'records.records_fingerprint', "'|'", 'rules.rules_fingerprint'
        ]) }} as inputs_fingerprint
    from {{ ref('customer_record_fingerprints') }} as records
    cross join (
        select {{ cdp.rows_fingerprint([
            'field', 'field_group', 'strategy', 'source_priority',
            'is_required_in_group',
        ]) }} as rules_fingerprint
        from {{ ref('survivorship_rules') }}
    ) as rules
{%- endmacro %}


{#
    Post-hook of customer_golden_fields: delete the rows whose fingerprint is not
    the customer's current one. They belong to customers that are gone, or whose
    new inputs left no field with a value, since the model's run replaced the rows
    of every other changed customer.
#}
{% macro delete_golden_fields_of_changed_inputs() -%}
    {{ cdp.delete_rows_of_stale_fingerprints(
        '(' ~ cdp.golden_record_input_fingerprints() ~ ')',
        'inputs_fingerprint',
        '_inputs_fingerprint'
    ) }}
{%- endmacro %}
