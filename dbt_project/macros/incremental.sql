{#
    Helpers of the incremental models (materialized='incremental', strategy
    delete+insert). Each such model keeps _processed_at, the start of the dbt run
    that last wrote the row (UTC). Its newest _processed_at is its watermark: a raw
    row loaded after it, or an upstream row written after it, is new to the model.
    The extracts are loaded and the identity step runs before the dbt run that reads
    them starts, so nothing new can carry an earlier time. A model without new
    rows keeps an older watermark, which only makes its next run read more.
    TODO: the nine incremental models repeat the same config block (incremental on
    DuckDB, table on Spark, delete+insert, a post-hook); one macro could set it.
#}

{# The start of this dbt run as a timestamp, the value of _processed_at. #}
{% macro processed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
        as {{ dbt.type_timestamp() }})
{%- endmacro %}


{# The model's watermark, as a scalar subquery. Call it inside is_incremental()
   only, where the model's table exists. An empty table gives a time before any
   load, so every row counts as new. #}
{% macro incremental_watermark() -%}
    (
        select coalesce(max(_processed_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
        from {{ this }}
    )
{%- endmacro %}


{# True for a row of `alias` (a staging row with _file, _row_number and
   _processed_at) whose raw row is gone from `raw_relation`, or was replaced by a
   later load of the same file name. Erasure and a re-delivered extract remove raw
   rows this way. A raw row without _loaded_at counts as loaded before any run. #}
{% macro raw_row_is_gone(raw_relation, alias) -%}
    not exists (
        select 1
        from {{ raw_relation }} as raw_row
        where raw_row._file = {{ alias }}._file
            and raw_row._row_number = {{ alias }}._row_number
            and (
                raw_row._loaded_at is null
                or raw_row._loaded_at < {{ alias }}._processed_at
            )
    )
{%- endmacro %}


{# Post-hook of the staging models: delete the rows whose raw row is gone. The
   model's own run recomputed every key that still has raw rows, so the rows left
   behind belong to keys with none. #}
{% macro delete_rows_gone_from_raw(raw_relation) -%}
    delete from {{ this }} as previous
    where {{ cdp.raw_row_is_gone(raw_relation, 'previous') }}
{%- endmacro %}


{# Post-hook of the marts: delete the rows whose `key` is no longer in `upstream`. #}
{% macro delete_rows_missing_from(upstream, key) -%}
    delete from {{ this }} as previous
    where not exists (
        select 1 from {{ upstream }} as current_rows
        where current_rows.{{ key }} = previous.{{ key }}
    )
{%- endmacro %}


{# Post-hook of int_web_profiles: delete the web records none of whose events is
   left in `events` (stg_web__events). #}
{% macro delete_web_records_without_events(events) -%}
    delete from {{ this }}
    where source_record_id not in (
        select {{ dbt.concat(["'user:'", 'user_id']) }}
        from {{ events }}
        where user_id is not null
        union all
        select {{ dbt.concat(["'anon:'", 'anonymous_id']) }}
        from {{ events }}
        where anonymous_id is not null
    )
{%- endmacro %}
