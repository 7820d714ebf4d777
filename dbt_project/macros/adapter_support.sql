{# Fail compilation for a dispatched macro that has no implementation for the
   current adapter, naming the macro to add. #}
{% macro raise_not_implemented(macro_name) %}
    {{ exceptions.raise_compiler_error(
        "cdp." ~ macro_name ~ " has no implementation for adapter '"
        ~ adapter.type() ~ "'. Add a macro named " ~ adapter.type() ~ "__"
        ~ macro_name ~ " next to duckdb__" ~ macro_name ~ " in macros/."
    ) }}
{% endmacro %}
