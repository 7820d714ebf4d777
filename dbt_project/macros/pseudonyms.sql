{#
    Pseudonyms for the analytics schema: HMAC-SHA256 (RFC 2104) of a value under
    the warehouse's pseudonym key, as 32 hex characters (the first 128 bits).
    The same value gives the same pseudonym in every model and every night, so
    analytics tables join on pseudonyms as the marts join on ids. Without the key,
    which stays in privacy.settings, a pseudonym cannot be computed from a guessed
    id. Python's hmac.new(key, value, sha256).hexdigest()[:32] gives the same text.
#}

{#
    The 64-byte HMAC block made from a key in hex (at most 64 bytes, padded with
    zero bytes), each byte XOR pad: 54 (0x36) for the inner key, 92 (0x5c) for
    the outer key. Returns a blob.
#}
{% macro hmac_key_pad(key_hex, pad) %}
    {{ return(adapter.dispatch('hmac_key_pad', 'cdp')(key_hex, pad)) }}
{% endmacro %}

{% macro default__hmac_key_pad(key_hex, pad) %}
    {{ cdp.raise_not_implemented('hmac_key_pad') }}
{% endmacro %}

{% macro duckdb__hmac_key_pad(key_hex, pad) -%}
    unhex(array_to_string(list_transform(
        range(64),
        lambda i: printf('%02x', xor(
            coalesce(cast(('0x' || nullif(substr({{ key_hex }}, 2 * i + 1, 2), '')) as integer), 0),
            {{ pad }}
        ))
    ), ''))
{%- endmacro %}

{# Spark has no XOR of blobs either, so the pad is built byte by byte as in DuckDB. #}
{% macro spark__hmac_key_pad(key_hex, pad) -%}
    unhex(array_join(transform(
        sequence(0, 63),
        i -> lpad(hex(
            coalesce(cast(conv(nullif(substr({{ key_hex }}, 2 * i + 1, 2), ''), 16, 10) as int), 0)
            ^ {{ pad }}
        ), 2, '0')
    ), ''))
{%- endmacro %}


{#
    Pseudonym of value (any type, cast to text). keys is the alias of a joined
    stg_privacy__pseudonym_keys row. Null stays null.
#}
{% macro pseudonymize(value, keys='pseudonym_keys') %}
    {{ return(adapter.dispatch('pseudonymize', 'cdp')(value, keys)) }}
{% endmacro %}

{% macro default__pseudonymize(value, keys) %}
    {{ cdp.raise_not_implemented('pseudonymize') }}
{% endmacro %}

{% macro duckdb__pseudonymize(value, keys) -%}
    substr(sha256(
        {{ keys }}.outer_key_pad
        || unhex(sha256({{ keys }}.inner_key_pad || encode(cast({{ value }} as varchar))))
    ), 1, 32)
{%- endmacro %}

{#
    Spark SQL has no HMAC function, but sha2 on binary and concat of binaries give
    the same two hashes. sha2 returns lower-case hex, as DuckDB's sha256 does, and
    cast(... as string) writes the ids, which are text, unchanged.
#}
{% macro spark__pseudonymize(value, keys) -%}
    substr(sha2(concat(
        {{ keys }}.outer_key_pad,
        unhex(sha2(concat(
            {{ keys }}.inner_key_pad, encode(cast({{ value }} as string), 'UTF-8')
        ), 256))
    ), 256), 1, 32)
{%- endmacro %}


{#
    The pseudonym of a fixed text, which identifies the key without revealing it.
    Stored pseudonyms (pseudonymized_events) keep it beside them, so after a key
    change they no longer match and are computed again. keys as in pseudonymize.
#}
{% macro pseudonym_key_fingerprint(keys='pseudonym_keys') -%}
    {{ cdp.pseudonymize("'pseudonym key fingerprint'", keys) }}
{%- endmacro %}


{#
    True when a row of the incremental model being built was computed under
    another pseudonym key than the current one. keys is the alias of a relation
    with the current key_fingerprint. Call it inside is_incremental() only.
#}
{% macro pseudonym_key_changed(keys='pseudonym_keys') -%}
    exists (
        select 1
        from {{ this }} as previous
        cross join {{ keys }}
        where previous.key_fingerprint <> {{ keys }}.key_fingerprint
    )
{%- endmacro %}


{# Fail the query that evaluates this expression with message (a SQL string). #}
{% macro raise_error(message) %}
    {{ return(adapter.dispatch('raise_error', 'cdp')(message)) }}
{% endmacro %}

{% macro default__raise_error(message) %}
    {{ cdp.raise_not_implemented('raise_error') }}
{% endmacro %}

{% macro duckdb__raise_error(message) -%}
    error({{ message }})
{%- endmacro %}

{% macro spark__raise_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}
