{#
    Snapshots on Spark tables in any file format. dbt-spark 1.11 snapshots only
    Delta, Iceberg and Hudi tables, because it updates rows with MERGE. This
    project's Spark tables are Parquet (no Delta or Iceberg jars are installed), so
    for them the snapshot writes the merged table anew and swaps it in by renaming.
    Delta, Iceberg and Hudi tables still get dbt-spark's MERGE.

    TODO: the swap is two renames, not one transaction, and a failure between them
    leaves the history in <snapshot>__dbt_backup, from where a rename restores it.
    Delta or Iceberg tables would let dbt-spark's MERGE replace the rewrite.
#}
{% materialization snapshot, adapter='spark' %}
    {%- set target_table = model.get('alias', model.get('name')) -%}
    {%- set strategy_name = config.get('strategy') -%}
    {%- set grant_config = config.get('grants') -%}

    {% set target_relation_exists, target_relation = get_or_create_relation(
        database=none, schema=model.schema, identifier=target_table, type='table'
    ) -%}
    {% if not adapter.check_schema_exists(model.database, model.schema) %}
        {% do create_schema(model.schema) %}
    {% endif %}

    {{ run_hooks(pre_hooks) }}

    {% set strategy_macro = strategy_dispatch(strategy_name) %}
    {% set strategy = strategy_macro(
        model, "snapshotted_data", "source_data", model['config'], target_relation_exists
    ) %}

    {% if not target_relation_exists %}
        {% call statement('main') %}
            {{ create_table_as(False, target_relation, build_snapshot_table(strategy, model['compiled_code'])) }}
        {% endcall %}
    {% else %}
        {% set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() %}
        {{ adapter.valid_snapshot_target(target_relation, columns) }}
        {% set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) %}

        {% set helper_columns = ['dbt_change_type', 'dbt_unique_key'] %}
        {% for key in strategy.unique_key if strategy.unique_key | is_list %}
            {% do helper_columns.append('dbt_unique_key_' ~ loop.index) %}
        {% endfor %}
        {% set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
            | rejectattr('name', 'in', helper_columns) | list %}
        {% do create_columns(target_relation, missing_columns) %}

        {% if target_relation.is_delta or target_relation.is_iceberg or target_relation.is_hudi %}
            {% call statement('main') %}
                {{ snapshot_merge_sql(target=target_relation, source=staging_table, insert_cols=[]) }}
            {% endcall %}
        {% else %}
            {% do cdp.spark_rewrite_snapshot(target_relation, staging_table, columns) %}
        {% endif %}
    {% endif %}

    {% do apply_grants(target_relation, grant_config, should_revoke(target_relation_exists, full_refresh_mode=False)) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks) }}
    {% if staging_table is defined %}
        {% do post_snapshot(staging_table) %}
    {% endif %}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#
    The result of dbt-spark's snapshot MERGE, written as a new table: current rows
    that the staging table updates or deletes get its dbt_valid_to, and its inserts
    are added.
#}
{% macro spark_rewrite_snapshot(target_relation, staging_table, columns) %}
    {% set rewritten = target_relation.incorporate(path={'identifier': target_relation.identifier ~ '__dbt_rewrite'}) %}
    {% set backup = target_relation.incorporate(path={'identifier': target_relation.identifier ~ '__dbt_backup'}) %}
    {% set valid_to = columns.dbt_valid_to %}
    {% set column_names = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | list %}
    {% set current_condition %}
        (snapshotted.{{ valid_to }} is null
        {%- if config.get('dbt_valid_to_current') %}
            or snapshotted.{{ valid_to }} = {{ config.get('dbt_valid_to_current') }}
        {%- endif %})
    {% endset %}

    {% do adapter.drop_relation(rewritten) %}
    {% call statement('main') %}
        create table {{ rewritten }}
        {{ file_format_clause() }}
        as
        select
            {% for name in column_names -%}
            {%- if name == valid_to -%}
            case
                when changes.{{ columns.dbt_scd_id }} is not null and {{ current_condition }}
                    then changes.{{ valid_to }}
                else snapshotted.{{ valid_to }}
            end as {{ valid_to }}
            {%- else -%}
            snapshotted.{{ adapter.quote(name) }}
            {%- endif %}{{ ',' if not loop.last }}
            {% endfor %}
        from {{ target_relation }} as snapshotted
        left join (
            select {{ columns.dbt_scd_id }}, {{ valid_to }}
            from {{ staging_table }}
            where dbt_change_type in ('update', 'delete')
        ) as changes
            on snapshotted.{{ columns.dbt_scd_id }} = changes.{{ columns.dbt_scd_id }}
        union all
        select
            {% for name in column_names -%}
            {{ adapter.quote(name) }}{{ ',' if not loop.last }}
            {% endfor %}
        from {{ staging_table }}
        where dbt_change_type = 'insert'
    {% endcall %}

    {% do adapter.drop_relation(backup) %}
    {% do adapter.rename_relation(target_relation, backup) %}
    {% do adapter.rename_relation(rewritten, target_relation) %}
    {% do adapter.drop_relation(backup) %}
{% endmacro %}
