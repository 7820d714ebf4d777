{#
    Marketing channel of a session from the UTM fields and the referrer of its
    first event: email, paid_search, social, organic, referral, direct or other.
    UTM fields win over the referrer, because a tagged link names its campaign. A
    referrer from the site's own host counts as direct. Every argument is a SQL
    expression over lower-case text; hosts come from cdp.url_host.
#}
{% macro session_channel(utm_source, utm_medium, referrer_host, page_host) -%}
    {#- Second-level names, matched with any top-level domain and subdomain. -#}
    {%- set search_sites = ['google', 'bing', 'duckduckgo', 'yahoo', 'ecosia', 'startpage', 'qwant'] -%}
    {%- set social_sites = ['facebook', 'instagram', 'linkedin', 'pinterest', 'tiktok', 'twitter', 'youtube', 'reddit'] -%}
    {%- set social_hosts = ['t.co', 'x.com'] -%}
    {%- set social_sources = ['facebook', 'fb', 'instagram', 'ig', 'linkedin', 'pinterest', 'tiktok', 'twitter', 'x', 'youtube', 'reddit'] -%}
    case
        when {{ utm_medium }} in ('email', 'e-mail', 'e_mail', 'newsletter')
            or {{ utm_source }} = 'newsletter'
            then 'email'
        when {{ utm_medium }} in ('cpc', 'ppc', 'paid_search', 'paidsearch', 'sem')
            then 'paid_search'
        when {{ utm_medium }} in ('social', 'paid_social', 'paidsocial', 'social_paid', 'social-media', 'sm')
            or {{ utm_source }} in ('{{ social_sources | join("', '") }}')
            then 'social'
        when {{ utm_medium }} = 'organic'
            then 'organic'
        when {{ utm_medium }} is not null or {{ utm_source }} is not null
            then 'other'
        when {{ referrer_host }} is null or {{ referrer_host }} = {{ page_host }}
            then 'direct'
        {%- for site in search_sites %}
        when {{ referrer_host }} like '{{ site }}.%' or {{ referrer_host }} like '%.{{ site }}.%'
            then 'organic'
        {%- endfor %}
        {%- for site in social_sites %}
        when {{ referrer_host }} like '{{ site }}.%' or {{ referrer_host }} like '%.{{ site }}.%'
            then 'social'
        {%- endfor %}
        {%- for host in social_hosts %}
        when {{ referrer_host }} = '{{ host }}' or {{ referrer_host }} like '%.{{ host }}'
            then 'social'
        {%- endfor %}
        else 'referral'
    end
{%- endmacro %}
