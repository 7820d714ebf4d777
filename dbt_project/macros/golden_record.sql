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
