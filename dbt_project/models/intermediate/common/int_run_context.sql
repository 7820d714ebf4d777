{#
    One row: as_of_at, the instant that traits and segments are computed for.
    With the var as_of_date set it is the end of that day (the next midnight UTC);
    otherwise the newest source timestamp that is not in the future, so a shipped
    sample gives the same segments on any day.
#}
{%- set as_of_date = var('as_of_date') -%}
{%- if as_of_date and not modules.re.match('^\d{4}-\d{2}-\d{2}$', as_of_date | string) -%}
    {{ exceptions.raise_compiler_error(
        "Invalid var as_of_date '" ~ as_of_date ~ "': expected YYYY-MM-DD, e.g. 2026-11-30."
    ) }}
{%- endif -%}

with

{% if as_of_date %}

final as (

    select
        {{ dbt.dateadd('day', 1, "cast('" ~ as_of_date ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
            as as_of_at,
        'var as_of_date' as as_of_source

)

{% else %}

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

shop_orders as (

    select * from {{ ref('stg_shop__orders') }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}

),

email_activities as (

    select * from {{ ref('stg_email__activities') }}

),

helpdesk_tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

social_leads as (

    select * from {{ ref('stg_social__leads') }}

),

source_timestamps as (

    select updated_at as observed_at from crm_contacts
    union all
    select ordered_at from shop_orders
    union all
    select occurred_at from web_events
    union all
    select occurred_at from email_activities
    union all
    select updated_at from helpdesk_tickets
    union all
    select created_at from social_leads

),

final as (

    select
        max(observed_at) as as_of_at,
        'newest source timestamp' as as_of_source
    from source_timestamps
    where observed_at <= cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})

)

{% endif %}

select * from final
