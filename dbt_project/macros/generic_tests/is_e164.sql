{# Fails for each non-null value that is not a phone number in E.164 form
   ("+", then 7 to 15 digits, the first not zero). #}
{% test is_e164(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and not {{ cdp.regexp_like(column_name, '^\+[1-9][0-9]{6,14}$') }}

{% endtest %}
