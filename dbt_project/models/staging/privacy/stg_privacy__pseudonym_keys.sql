{#
    The pseudonym key as the two padded HMAC-SHA256 keys (RFC 2104), one row.
    A view, so the key exists only in privacy.settings and in no other table.
    A plain `dbt build` on a warehouse that no nightly run has touched fails here
    with what to do, because without the key there is nothing to pseudonymize with.
#}
{{ config(materialized='view') }}

{%- set settings_source = source('privacy', 'settings') -%}
{%- if execute and load_relation(settings_source) is none -%}
    {{ exceptions.raise_compiler_error(
        "privacy.settings does not exist, so the analytics models have no "
        "pseudonym key. Run `cdp run` once, or create it with "
        "orchestration.privacy.store.pseudonym_key."
    ) }}
{%- endif %}

with

source as (

    select * from {{ settings_source }}

),

key as (

    select
        coalesce(
            max(case when name = 'pseudonym_key' then value end),
            {{ cdp.raise_error(
                "'privacy.settings has no pseudonym_key; run cdp run once'"
            ) }}
        ) as key_hex
    from source

),

final as (

    select
        {{ cdp.hmac_key_pad('key_hex', 54) }} as inner_key_pad,
        {{ cdp.hmac_key_pad('key_hex', 92) }} as outer_key_pad
    from key

)

select * from final
