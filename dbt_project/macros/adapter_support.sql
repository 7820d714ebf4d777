{# Fail compilation for a dispatched macro that has no implementation for the
   current adapter, naming the macro to add. #}
{#
    Raises only when SQL is compiled, not while dbt parses the project: dbt parses
    models that the target disables, such as the analytics models on Spark.
#}
{% macro raise_not_implemented(macro_name) %}
    {% if execute %}
    {{ exceptions.raise_compiler_error(
        "cdp." ~ macro_name ~ " has no implementation for adapter '"
        ~ adapter.type() ~ "'. Add a macro named " ~ adapter.type() ~ "__"
        ~ macro_name ~ " next to duckdb__" ~ macro_name ~ " in macros/."
    ) }}
    {% endif %}
{% endmacro %}
