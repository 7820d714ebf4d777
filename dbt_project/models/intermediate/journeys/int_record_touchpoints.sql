-- Touchpoints that exist only on a person record and in no fact table: a lead form
-- submitted and a CRM contact created, one row per record. customer_timeline adds
-- the record's customer id.
with

social_leads as (

    select * from {{ ref('stg_social__leads') }}

),

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

final as (

    select
        {{ cdp.record_key('social_leads', 'lead_id') }} as record_key,
        created_at as occurred_at,
        'social_leads' as source,
        'lead_form_submitted' as touchpoint_type,
        lead_id as source_record_id,
        {{ dbt.concat([
            "'form: '", "coalesce(form_name, '-')",
            "', campaign: '", "coalesce(campaign_name, '-')",
            "', platform: '", "coalesce(platform, '-')",
        ]) }} as detail
    from social_leads

    union all

    select
        {{ cdp.record_key('crm_contacts', 'contact_id') }},
        created_at,
        'crm_contacts',
        'crm_contact_created',
        contact_id,
        cast(null as {{ dbt.type_string() }})
    from crm_contacts

)

select * from final
