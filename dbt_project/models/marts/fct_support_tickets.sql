-- One row per helpdesk ticket with its customer.
with

tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

customer_records as (

    select * from {{ ref('customer_source_records') }}

),

final as (

    select
        tickets.ticket_id,
        customer_records.customer_id,
        tickets.created_at,
        tickets.updated_at,
        tickets.status,
        tickets.channel,
        tickets.subject,
        tickets.satisfaction_rating
    from tickets
    left join customer_records
        on {{ cdp.record_key('helpdesk_tickets', 'tickets.ticket_id') }}
            = customer_records.record_key

)

select * from final
