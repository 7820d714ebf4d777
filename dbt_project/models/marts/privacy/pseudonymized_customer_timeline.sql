-- One row per touchpoint of customer_timeline with every column of
-- analytics_customer_timeline: the touchpoint, customer and source record
-- pseudonyms. analytics_customer_timeline reads this table, so hashing runs once
-- per touchpoint instead of each time an analyst or the analyst copy reads the
-- view.
-- Incremental: the touchpoints of the customers that customer_timeline wrote
-- since this model last ran, or every touchpoint after a change of the pseudonym
-- key. The post-hook deletes the rows of customers gone from customer_timeline.
-- The customer_id column puts the rows in the erasure step's scope.
{{ cdp.incremental_config(
    unique_key='customer_id',
    post_hook="{{ cdp.delete_rows_missing_from(ref('customer_timeline_fingerprints'), 'customer_id') }}",
) }}

with

pseudonym_keys as (

    select
        padded_keys.*,
        {{ cdp.pseudonym_key_fingerprint('padded_keys') }} as key_fingerprint
    from {{ ref('stg_privacy__pseudonym_keys') }} as padded_keys

),

timeline as (

    select * from {{ ref('customer_timeline') }}
    {% if is_incremental() %}
    where _processed_at > {{ cdp.incremental_watermark() }}
        or {{ cdp.pseudonym_key_changed() }}
    {% endif %}

),

final as (

    select
        timeline.touchpoint_id,
        timeline.customer_id,
        {{ cdp.pseudonymize('timeline.touchpoint_id') }} as touchpoint_pseudonym,
        {{ cdp.pseudonymize('timeline.customer_id') }} as customer_pseudonym,
        timeline.occurred_at,
        timeline.source,
        timeline.touchpoint_type,
        {{ cdp.pseudonymize('timeline.source_record_id') }} as source_record_pseudonym,
        timeline.touchpoint_number,
        pseudonym_keys.key_fingerprint,
        {{ cdp.processed_at() }} as _processed_at
    from timeline
    cross join pseudonym_keys

)

select * from final
