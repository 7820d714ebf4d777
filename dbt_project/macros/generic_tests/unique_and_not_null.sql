{#
    Fails for each value that occurs more than once, and once for the null value
    if any row has it: dbt's unique and not_null tests in one pass over the rows.
    Worth it on views that compute the column for every row, such as the analytics
    pseudonyms, which each of the two tests would compute again.
#}
{% test unique_and_not_null(model, column_name) %}

select
    {{ column_name }} as tested_value,
    count(*) as row_count
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null

{% endtest %}
