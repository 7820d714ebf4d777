-- One row per customer with touchpoints: a fingerprint of all the customer's
-- touchpoints. It changes when a touchpoint of the customer is added, removed,
-- moved to another customer or changed in a column of customer_timeline. The
-- incremental customer_timeline computes a customer again only when it differs
-- from the fingerprint stored in the customer's rows.
with

touchpoints as (

    select * from {{ ref('customer_touchpoints') }}

),

final as (

    select
        customer_id,
        {{ cdp.rows_fingerprint([
            'source', 'touchpoint_type', 'source_record_id', 'occurred_at', 'detail',
        ]) }} as touchpoints_fingerprint
    from touchpoints
    group by customer_id

)

select * from final
