-- One row per helpdesk ticket, as marts.fct_support_tickets, with pseudonyms in
-- place of the ticket and customer ids and without the subject, which is free text.
with

tickets as (

    select * from {{ ref('fct_support_tickets') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('tickets.ticket_id') }} as ticket_pseudonym,
        {{ cdp.pseudonymize('tickets.customer_id') }} as customer_pseudonym,
        tickets.created_at,
        tickets.updated_at,
        tickets.status,
        tickets.channel,
        tickets.satisfaction_rating
    from tickets
    cross join pseudonym_keys

)

select * from final
