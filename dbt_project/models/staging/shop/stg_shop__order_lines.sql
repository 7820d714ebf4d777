-- Incremental: an order is recomputed when a later extract exports it again, or
-- when one of its raw rows is gone (an erased person, a replaced extract).
{{ cdp.incremental_config(
    unique_key='order_id',
    post_hook="{{ cdp.delete_rows_gone_from_raw(source('raw', 'shop_orders')) }}",
) }}

with

{% if is_incremental() %}
changed_orders as (

    select {{ cdp.clean_text('order_name') }} as order_id
    from {{ source('raw', 'shop_orders') }}
    where _loaded_at > {{ cdp.incremental_watermark() }}
    union
    select order_id
    from {{ this }} as previous
    where {{ cdp.raw_row_is_gone(source('raw', 'shop_orders'), 'previous') }}

),

{% endif %}
source as (

    select * from {{ source('raw', 'shop_orders') }}
    {% if is_incremental() %}
    where {{ cdp.clean_text('order_name') }} in (select order_id from changed_orders)
    {% endif %}

),

renamed as (

    select
        {{ cdp.clean_text('order_name') }} as order_id,
        {{ cdp.clean_text('lineitem_sku') }} as sku,
        {{ cdp.clean_text('lineitem_name') }} as product_name,
        cast(lineitem_quantity as integer) as quantity,
        cast(lineitem_price as decimal(18, 2)) as unit_price,
        _file,
        _row_number
    from source

),

-- An order exported on several nights keeps the lines of the newest file.
latest_files as (

    select
        order_id,
        max(_file) as latest_file
    from renamed
    where order_id is not null
    group by order_id

),

latest_lines as (

    select renamed.*
    from renamed
    inner join latest_files
        on renamed.order_id = latest_files.order_id
        and renamed._file = latest_files.latest_file

),

numbered as (

    select
        *,
        row_number() over (partition by order_id order by _row_number) as line_number
    from latest_lines

),

final as (

    select
        {{ dbt.concat(['order_id', "'/'", 'cast(line_number as ' ~ dbt.type_string() ~ ')']) }}
            as order_line_id,
        order_id,
        line_number,
        sku,
        product_name,
        quantity,
        unit_price,
        quantity * unit_price as line_amount,
        _file,
        _row_number,
        {{ cdp.processed_at() }} as _processed_at
    from numbered

)

select * from final
