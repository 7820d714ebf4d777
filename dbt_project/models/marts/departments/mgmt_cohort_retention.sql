-- Retention by monthly cohort: customers grouped by the month of their first
-- order, and the share of each cohort that ordered in each month from the cohort
-- month on.
-- Orders refunded or voided count nowhere here. Months run up to the newest
-- month with an order.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_months as (

    select distinct
        customer_id,
        cast({{ dbt.date_trunc('month', 'ordered_at') }} as date) as month_start_date
    from orders
    where not is_refunded_or_voided
        and ordered_at is not null

),

cohorts as (

    select
        customer_id,
        min(month_start_date) as cohort_month_start_date
    from customer_months
    group by customer_id

),

cohort_sizes as (

    select
        cohort_month_start_date,
        count(*) as cohort_customers
    from cohorts
    group by cohort_month_start_date

),

months as (

    select distinct month_start_date from customer_months

),

cohort_months as (

    select
        cohort_sizes.cohort_month_start_date,
        cohort_sizes.cohort_customers,
        months.month_start_date
    from cohort_sizes
    inner join months
        on months.month_start_date >= cohort_sizes.cohort_month_start_date

),

retained as (

    select
        cohorts.cohort_month_start_date,
        customer_months.month_start_date,
        count(*) as ordering_customers
    from customer_months
    inner join cohorts
        on customer_months.customer_id = cohorts.customer_id
    group by cohorts.cohort_month_start_date, customer_months.month_start_date

),

final as (

    select
        cohort_months.cohort_month_start_date,
        cohort_months.month_start_date,
        {{ dbt.datediff(
            'cohort_months.cohort_month_start_date',
            'cohort_months.month_start_date',
            'month'
        ) }} as months_since_first_order,
        cohort_months.cohort_customers,
        coalesce(retained.ordering_customers, 0) as ordering_customers,
        {{ cdp.safe_ratio(
            'coalesce(retained.ordering_customers, 0)', 'cohort_months.cohort_customers'
        ) }} as retention_rate
    from cohort_months
    left join retained
        on cohort_months.cohort_month_start_date = retained.cohort_month_start_date
        and cohort_months.month_start_date = retained.month_start_date

)

select * from final
