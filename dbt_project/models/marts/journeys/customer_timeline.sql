-- One row per touchpoint of a known customer across every source (the union is
-- in customer_touchpoints), numbered in time order per customer.
-- Incremental: a customer is computed again when its touchpoints no longer match
-- the fingerprint stored in its rows (customer_timeline_fingerprints). The
-- post-hook deletes the rows of customers with no touchpoints left. A table from
-- before the fingerprint column gets it empty, so its next run computes every
-- customer.
{{ cdp.incremental_config(
    unique_key='customer_id',
    on_schema_change='append_new_columns',
    post_hook="{{ cdp.delete_rows_of_stale_fingerprints(
        ref('customer_timeline_fingerprints'),
        'touchpoints_fingerprint',
        '_touchpoints_fingerprint'
    ) }}",
) }}
with

fingerprints as (

    select * from {{ ref('customer_timeline_fingerprints') }}

),

{% if is_incremental() %}
-- New customers, and customers whose touchpoints changed since their rows were
-- written.
changed_customers as (

    {{ cdp.customers_with_changed_fingerprints(
        'fingerprints', 'touchpoints_fingerprint', '_touchpoints_fingerprint'
    ) }}

),

{% endif %}
touchpoints as (

    select * from {{ ref('customer_touchpoints') }}
    {% if is_incremental() %}
    where customer_id in (select customer_id from changed_customers)
    {% endif %}

),

final as (

    select
        touchpoints.touchpoint_id,
        touchpoints.customer_id,
        touchpoints.occurred_at,
        touchpoints.source,
        touchpoints.touchpoint_type,
        touchpoints.source_record_id,
        touchpoints.detail,
        cast(row_number() over (
            partition by touchpoints.customer_id
            order by
                touchpoints.occurred_at,
                touchpoints.source,
                touchpoints.touchpoint_type,
                touchpoints.source_record_id
        ) as {{ dbt.type_bigint() }}) as touchpoint_number,
        fingerprints.touchpoints_fingerprint as _touchpoints_fingerprint,
        {{ cdp.processed_at() }} as _processed_at
    from touchpoints
    inner join fingerprints
        on touchpoints.customer_id = fingerprints.customer_id

)

select * from final
