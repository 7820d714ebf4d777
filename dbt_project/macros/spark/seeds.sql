{#
    Seed rows as SQL literals. dbt-spark 1.11 passes them as bindings, which its
    session method pastes into the SQL text as '<value>' without escaping, so an
    empty cell becomes the text 'None' and an apostrophe breaks the statement.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set column_override = model['config'].get('column_types', {}) %}
    {% set column_types = [] %}
    {% for column_name in agate_table.column_names %}
        {% set inferred_type = adapter.convert_type(agate_table, loop.index0) %}
        {% do column_types.append(column_override.get(column_name, inferred_type)) %}
    {% endfor %}

    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(get_batch_size()) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                (
                {%- for value in row -%}
                    cast({{ cdp.spark_seed_literal(value) }} as {{ column_types[loop.index0] }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%}
                ){%- if not loop.last %},{% endif %}
            {% endfor %}
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% do statements.append(sql) %}
    {% endfor %}

    {# The first statement shows in the compiled files. #}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}


{# A Spark string literal for one seed cell: null for an empty cell, backslashes and
   quotes escaped because Spark reads them as escapes in '...'. #}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
