-- One row per consent decision, as marts.consent_ledger, with pseudonyms in place
-- of the ids and without the record key, which can contain an email address.
with

ledger as (

    select * from {{ ref('consent_ledger') }}

),

pseudonym_keys as (

    select * from {{ ref('stg_privacy__pseudonym_keys') }}

),

final as (

    select
        {{ cdp.pseudonymize('ledger.consent_decision_id') }} as consent_decision_pseudonym,
        {{ cdp.pseudonymize('ledger.customer_id') }} as customer_pseudonym,
        ledger.channel,
        ledger.source,
        ledger.decided_at,
        ledger.is_granted,
        ledger.is_current
    from ledger
    cross join pseudonym_keys

)

select * from final
