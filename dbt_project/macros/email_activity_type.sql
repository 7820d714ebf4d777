{# Activity type from the email platform's action label: one of sent, opened,
   clicked, soft_bounced, hard_bounced, unsubscribed, complained or other. A bounce
   without "soft" is counted as hard, so the address is suppressed. #}
{% macro email_activity_type(action) -%}
    {#- Tabs and line breaks count as spaces: DuckDB's trim removes only spaces. -#}
    {%- set spaced = "translate(" ~ action ~ ", chr(9) || chr(10) || chr(13), '   ')" -%}
    {%- set label = "replace(replace(lower(trim(" ~ spaced ~ ")), ' ', '_'), '-', '_')" -%}
    case
        when {{ label }} in ('send', 'sent', 'delivered', 'delivery') then 'sent'
        when {{ label }} in ('open', 'opened') then 'opened'
        when {{ label }} in ('click', 'clicked') then 'clicked'
        when {{ label }} in ('soft_bounce', 'soft_bounced', 'softbounce') then 'soft_bounced'
        when {{ label }} in ('bounce', 'bounced', 'hard_bounce', 'hard_bounced', 'hardbounce')
            then 'hard_bounced'
        when {{ label }} in (
            'unsubscribe', 'unsubscribed', 'unsub', 'opt_out', 'optout', 'abgemeldet',
            'abmeldung'
        )
            then 'unsubscribed'
        when {{ label }} in ('complaint', 'complained', 'spam', 'spam_complaint', 'abuse')
            then 'complained'
        else 'other'
    end
{%- endmacro %}
