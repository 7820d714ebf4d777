-- One row per known customer: a fingerprint of all the customer's rows in
-- customer_source_records. It changes when a record of the customer is added,
-- removed, moved to another customer or changed in any column. Incremental
-- customer-grain models compare it with the fingerprint they stored to find the
-- customers they must compute again.
{#- Every column but customer_id, read from the warehouse when the model runs, so
    a column added to customer_source_records counts too. #}
{%- set columns = ['record_key'] %}
{%- if execute %}
{%- set columns = adapter.get_columns_in_relation(ref('customer_source_records'))
    | map(attribute='name') | reject('equalto', 'customer_id') | list %}
{%- endif %}
with

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

final as (

    select
        customer_id,
        {{ cdp.rows_fingerprint(columns) }} as records_fingerprint
    from customer_records
    group by customer_id

)

select * from final
