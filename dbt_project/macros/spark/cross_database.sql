{#
    Spark versions of dbt's cross-database macros, defined in this project to
    replace dbt-spark 1.11's, which differ from dbt-duckdb's in ways that change
    results. dbt resolves a macro of its own namespace in the root project first.
#}

{# dbt-spark drops order_by_clause. Spark 4 has listagg ... within group. #}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("cdp: listagg with limit_num is not implemented on Spark") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }})
    {%- if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}


{# dbt-spark casts with cast(), which fails on invalid text in Spark's ANSI mode,
   the default since Spark 4. try_cast returns null, like DuckDB's. #}
{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}


{# dbt-spark adds whole seconds through unix timestamps and so drops fractions of a
   second. timestampadd keeps microseconds, as DuckDB's interval arithmetic does. #}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}


{#
    Number of datepart boundaries between two dates or timestamps, as a bigint,
    like DuckDB's date_diff. dbt-spark returns an int, and its month difference
    counts one too many from the last day of a longer month (Jan 31 to Feb 28
    gives 2), because months_between is whole between month ends.
#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set seconds_per_part = {'hour': 3600, 'minute': 60, 'second': 1} -%}
    {%- if datepart == 'day' -%}
        cast(datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
            as bigint)
    {%- elif datepart in ('month', 'quarter', 'year') -%}
        {%- set months_per_part = {'month': 1, 'quarter': 3, 'year': 12}[datepart] -%}
        {%- set first = "(year(" ~ first_date ~ ") * 12 + month(" ~ first_date ~ ") - 1)" -%}
        {%- set second = "(year(" ~ second_date ~ ") * 12 + month(" ~ second_date ~ ") - 1)" -%}
        cast(
            floor({{ second }} / {{ months_per_part }}) - floor({{ first }} / {{ months_per_part }})
            as bigint
        )
    {%- elif datepart in seconds_per_part -%}
        cast(
            (unix_seconds(date_trunc('{{ datepart }}', {{ second_date }}))
                - unix_seconds(date_trunc('{{ datepart }}', {{ first_date }})))
            / {{ seconds_per_part[datepart] }}
            as bigint
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "cdp: datediff by '" ~ datepart ~ "' is not implemented on Spark"
        ) }}
    {%- endif -%}
{%- endmacro %}
