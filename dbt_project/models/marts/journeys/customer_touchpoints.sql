-- One row per touchpoint of a known customer across every source, without its
-- position in the customer's timeline. customer_timeline_fingerprints and
-- customer_timeline read it. Being ephemeral, it is a common table expression of
-- each and has no table in the warehouse. detail carries ids, campaign names,
-- channels and statuses, never names, addresses or free text.
{{ config(materialized='ephemeral') }}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

email_activities as (

    select * from {{ ref('fct_email_activities') }}

),

tickets as (

    select * from {{ ref('fct_support_tickets') }}

),

record_touchpoints as (

    select * from {{ ref('int_record_touchpoints') }}

),

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

touchpoints as (

    select
        customer_id,
        started_at as occurred_at,
        'web_events' as source,
        'session_started' as touchpoint_type,
        session_id as source_record_id,
        {{ dbt.concat([
            "'channel: '", 'channel',
            "', landing page: '", "coalesce(landing_page, '-')",
        ]) }} as detail
    from sessions
    where customer_id is not null

    union all

    select
        customer_id,
        ordered_at,
        'shop_orders',
        'order_placed',
        order_id,
        {{ dbt.concat([
            "'status: '", "coalesce(financial_status, '-')",
            "', total EUR: '", "coalesce(cast(total_eur as " ~ dbt.type_string() ~ "), '-')",
        ]) }}
    from orders

    union all

    select
        customer_id,
        occurred_at,
        'email_activity',
        {{ dbt.concat(["'email_'", 'activity_type']) }},
        email_activity_id,
        {{ dbt.concat(["'campaign: '", "coalesce(campaign_name, campaign_id, '-')"]) }}
    from email_activities

    union all

    select
        customer_id,
        created_at,
        'helpdesk_tickets',
        'ticket_created',
        ticket_id,
        {{ dbt.concat([
            "'channel: '", "coalesce(channel, '-')",
            "', status: '", "coalesce(status, '-')",
        ]) }}
    from tickets

    union all

    select
        customer_records.customer_id,
        record_touchpoints.occurred_at,
        record_touchpoints.source,
        record_touchpoints.touchpoint_type,
        record_touchpoints.source_record_id,
        record_touchpoints.detail
    from record_touchpoints
    inner join customer_records
        on record_touchpoints.record_key = customer_records.record_key

),

final as (

    select
        {{ cdp.surrogate_key(['source', 'touchpoint_type', 'source_record_id']) }}
            as touchpoint_id,
        customer_id,
        occurred_at,
        source,
        touchpoint_type,
        source_record_id,
        detail
    from touchpoints
    where customer_id is not null
        and occurred_at is not null

)

select * from final
