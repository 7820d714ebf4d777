"""Shop orders in Shopify's order export layout.

Grain: one row per line item. Order fields (e-mail, status, amounts, billing address)
are filled on the first line item of an order only, as Shopify exports them, while
Name and the Lineitem columns are on every row. One order is one person record. Buyers
without a CRM contact are guest checkouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from ingestion.generator.catalog import (
    CURRENCY_FACTORS,
    DISCOUNT_CODES,
    FREE_SHIPPING_FROM,
    SHIPPING_FEES,
    Catalog,
    build_catalog,
)
from ingestion.generator.clock import DAY, berlin_with_offset, uniform_times
from ingestion.generator.context import GenerationContext
from ingestion.generator.countries import COUNTRIES, COUNTRY_CODES, weighted_choice
from ingestion.generator.fields import (
    RecordNoise,
    draw_record_noise,
    noisy_emails,
    noisy_full_names,
    noisy_homes,
    noisy_phones,
)
from ingestion.generator.ids import increasing_ids
from ingestion.generator.noise import blank
from ingestion.generator.templates import TWO_DIGIT_STRINGS, integer_strings
from ingestion.generator.writers import (
    Extract,
    Subscriptions,
    column_headers,
    write_csv,
)
from ingestion.sources import SHOP_ORDERS

FIRST_ORDER_NUMBER = 1001
LAPSED_AFTER_DAYS = 300
PHONE_STYLES = {
    "national_plain": 3,
    "national_grouped": 2,
    "national_slash": 1,
    "international": 2,
    "e164": 1,
    "international_00": 1,
    "national_dash": 1,
}
FINANCIAL_STATUSES = (
    ("paid", 0.88),
    ("refunded", 0.03),
    ("partially_refunded", 0.02),
    ("pending", 0.04),
    ("authorized", 0.02),
    ("voided", 0.01),
)
UNPAID = ("pending", "authorized", "voided")


@dataclass
class OrderPlan:
    """Random choices per order and per line item.

    Order arrays are aligned by order number (file order), item arrays by line-item
    row, with ``item_order`` pointing to the order of each row.
    """

    persons: np.ndarray
    created: np.ndarray
    ids: np.ndarray
    currencies: np.ndarray
    statuses: np.ndarray
    discount: np.ndarray
    accepts_marketing: np.ndarray
    missing_phone: np.ndarray
    noise: RecordNoise
    item_order: np.ndarray
    item_catalog: np.ndarray
    item_quantity: np.ndarray

    def order_names(self, orders: np.ndarray) -> np.ndarray:
        """Return Shopify order names ("#1001") of order numbers."""
        return np.strings.add("#", (FIRST_ORDER_NUMBER + orders).astype(str))


def write_shop_orders(context: GenerationContext) -> Extract:
    rng = context.rng(SHOP_ORDERS.name)
    catalog = build_catalog()
    plan = _plan(context, rng, catalog)
    amounts = _amounts(plan, catalog, context)
    path = context.path(SHOP_ORDERS)
    rows = len(plan.item_order)

    def render(start: int, stop: int):
        return _render(context, plan, catalog, amounts, start, stop)

    report = context.reporter(SHOP_ORDERS.name)
    write_csv(
        path,
        column_headers(SHOP_ORDERS),
        rows,
        render,
        report,
        context.settings.processes,
    )
    subscriptions = _subscriptions(context, plan)
    names = plan.order_names(np.arange(len(plan.persons)))
    return Extract(
        SHOP_ORDERS, path, rows, names, plan.persons, subscriptions, plan.created
    )


def _subscriptions(context: GenerationContext, plan: OrderPlan) -> Subscriptions:
    """Return the checkout e-mail of each person's first order that accepted
    marketing, which Shopify passes on to the e-mail platform."""
    opted_in = np.flatnonzero(plan.accepts_marketing)
    _, first = np.unique(plan.persons[opted_in], return_index=True)
    rows = opted_in[first]
    persons = plan.persons[rows]
    addresses = noisy_emails(context.people, persons, plan.noise, rows)
    return Subscriptions(addresses, persons, plan.created[rows])


def _plan(context: GenerationContext, rng, catalog: Catalog) -> OrderPlan:
    persons, created = _order_times(context, rng)
    size = len(persons)
    rates = context.settings.noise
    country = context.people.country[persons]
    statuses = weighted_choice(rng, FINANCIAL_STATUSES, size)
    item_order, item_catalog, item_quantity = _line_items(
        rng, size, len(catalog.names), context.settings.presence.items_per_order
    )
    return OrderPlan(
        persons=persons,
        created=created,
        ids=increasing_ids(rng, size, 5_200_000_000_000, 40_000),
        currencies=_currencies(rng, country),
        statuses=statuses,
        discount=_discounts(rng, size),
        accepts_marketing=context.people.consent[persons] ^ (rng.random(size) < 0.05),
        missing_phone=rng.random(size) < rates.missing["shop_phone"],
        noise=draw_record_noise(rng, size, rates, SHOP_ORDERS.name, PHONE_STYLES),
        item_order=item_order,
        item_catalog=item_catalog,
        item_quantity=item_quantity,
    )


def _order_times(context: GenerationContext, rng) -> tuple[np.ndarray, np.ndarray]:
    """Draw each buyer's order times, sorted by time across all buyers.

    Lapsed buyers order only before the last ``LAPSED_AFTER_DAYS`` days, the others
    from their first record on, so recent, lapsed and repeat buyers all exist.
    """
    people, presence, window = context.people, context.presence, context.window
    persons = np.repeat(np.arange(len(people)), presence.orders)
    lapsed = presence.lapsed[persons]
    latest_start = window.days_before_end(60)
    low = np.where(
        lapsed, window.start, np.minimum(people.first_seen[persons], latest_start)
    )
    high = np.where(lapsed, window.days_before_end(LAPSED_AFTER_DAYS), window.end)
    created = uniform_times(rng, low, high)
    order = np.argsort(created, kind="stable")
    return persons[order], created[order]


def _line_items(rng, orders: int, variants: int, shares) -> tuple[np.ndarray, ...]:
    """Draw 1..4 distinct variants per order with quantities of 1 to 3.

    Variants of one order are ``first + k * step`` modulo the catalog size with a
    step coprime to it, so they never repeat within an order.
    """
    counts = 1 + rng.choice(len(shares), size=orders, p=np.array(shares) / sum(shares))
    item_order = np.repeat(np.arange(orders), counts)
    position = np.arange(len(item_order)) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    steps = np.array([step for step in range(1, variants) if gcd(step, variants) == 1])
    first = rng.integers(variants, size=orders)
    step = steps[rng.integers(len(steps), size=orders)]
    catalog = (first[item_order] + position * step[item_order]) % variants
    quantity = rng.choice(3, size=len(item_order), p=(0.82, 0.14, 0.04)) + 1
    return item_order, catalog, quantity


def _currencies(rng, country: np.ndarray) -> np.ndarray:
    currencies = np.empty(len(country), dtype=object)
    for index, spec in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == index)
        currencies[rows] = weighted_choice(rng, spec.currencies, len(rows))
    return currencies


def _discounts(rng, size: int) -> np.ndarray:
    """Draw a discount code index per order, -1 for none."""
    codes = rng.integers(len(DISCOUNT_CODES), size=size)
    return np.where(rng.random(size) < 0.15, codes, -1)


@dataclass
class OrderAmounts:
    """Money per line item and per order, in the order's currency."""

    item_price: np.ndarray
    subtotal: np.ndarray
    shipping: np.ndarray
    taxes: np.ndarray
    total: np.ndarray


def _amounts(plan: OrderPlan, catalog: Catalog, context) -> OrderAmounts:
    """Compute Shopify's amounts: prices include VAT, Taxes is the VAT share."""
    currency = plan.currencies[plan.item_order]
    factor = np.array([CURRENCY_FACTORS[code] for code in currency.tolist()])
    base = catalog.prices[plan.item_catalog]
    price = np.where(factor == 1.0, base, np.ceil(base * factor) - 0.05)
    gross = np.bincount(
        plan.item_order, weights=price * plan.item_quantity, minlength=len(plan.persons)
    )
    rates = np.array([rate for _, rate in DISCOUNT_CODES] + [0.0])
    subtotal = np.round(gross * (1 - rates[plan.discount]), 2)

    fees = np.array([SHIPPING_FEES[code] for code in plan.currencies.tolist()])
    shipping = np.where(subtotal >= FREE_SHIPPING_FROM, 0.0, fees)
    vat = np.array([spec.vat_rate for spec in COUNTRIES])[
        context.people.country[plan.persons]
    ]
    taxes = np.round((subtotal + shipping) * vat / (1 + vat), 2)
    return OrderAmounts(price, subtotal, shipping, taxes, subtotal + shipping)


def _render(context, plan: OrderPlan, catalog: Catalog, amounts, start, stop):
    orders = plan.item_order[start:stop]
    first_order, end_order = int(orders[0]), int(orders[-1]) + 1
    order_columns = _order_columns(context, plan, amounts, first_order, end_order)
    is_first = np.r_[True, orders[1:] != orders[:-1]]
    if start > 0:
        is_first[0] = plan.item_order[start - 1] != orders[0]
    first_rows = np.flatnonzero(is_first)
    first_row_orders = orders[first_rows] - first_order

    def spread(column: list[str]) -> list[str]:
        """Put order values on the first line item of each order, "" elsewhere."""
        values = np.full(len(orders), "", dtype=object)
        values[first_rows] = np.asarray(column, dtype=object)[first_row_orders]
        return values.tolist()

    items = plan.item_catalog[start:stop]
    line_items = {
        "Name": plan.order_names(orders).tolist(),
        "Lineitem quantity": integer_strings(plan.item_quantity[start:stop]).tolist(),
        "Lineitem name": catalog.names[items].tolist(),
        "Lineitem price": _money(amounts.item_price[start:stop]),
        "Lineitem sku": catalog.skus[items].tolist(),
    }
    return [
        line_items[header] if header in line_items else spread(order_columns[header])
        for header in column_headers(SHOP_ORDERS)
    ]


def _order_columns(context, plan: OrderPlan, amounts, start: int, stop: int) -> dict:
    """Render the order-level columns of orders ``start`` to ``stop``."""
    people = context.people
    rows = np.arange(start, stop)
    persons = plan.persons[rows]
    created = plan.created[rows]
    statuses = plan.statuses[rows]

    homes = people.homes_at(persons, created)
    street, zip_code, city = noisy_homes(homes, plan.noise, rows)
    phones = noisy_phones(people, persons, plan.noise, rows)
    code_names = np.array([code for code, _ in DISCOUNT_CODES] + [""], dtype=object)

    return {
        "Email": noisy_emails(people, persons, plan.noise, rows),
        "Financial Status": statuses.tolist(),
        "Paid at": _paid_at(created, statuses),
        "Fulfillment Status": _fulfillment(context, created, statuses),
        "Accepts Marketing": _yes_no(plan.accepts_marketing[start:stop]),
        "Currency": plan.currencies[start:stop].tolist(),
        "Subtotal": _money(amounts.subtotal[start:stop]),
        "Shipping": _money(amounts.shipping[start:stop]),
        "Taxes": _money(amounts.taxes[start:stop]),
        "Total": _money(amounts.total[start:stop]),
        "Discount Code": code_names[plan.discount[rows]].tolist(),
        "Created at": berlin_with_offset(created).tolist(),
        "Billing Name": noisy_full_names(people, persons, plan.noise, rows),
        "Billing Street": street,
        "Billing City": city,
        "Billing Zip": zip_code,
        "Billing Country": COUNTRY_CODES[people.country[persons]].tolist(),
        "Billing Phone": blank(phones, plan.missing_phone[start:stop]),
        "Id": plan.ids[start:stop].astype(str).tolist(),
    }


def _paid_at(created: np.ndarray, statuses: np.ndarray) -> list[str]:
    """Paid orders are captured a few seconds to minutes after checkout."""
    paid = ~np.isin(statuses, UNPAID)
    delay = (created % 97) * 3 + 2
    return np.where(paid, berlin_with_offset(created + delay), "").tolist()


def _fulfillment(context, created: np.ndarray, statuses: np.ndarray) -> list[str]:
    shipped = (created < context.window.end - 2 * DAY) & ~np.isin(statuses, UNPAID)
    partial = (created % 31) == 0
    restocked = (statuses == "refunded") & (created % 2 == 0)
    status = np.where(shipped, np.where(partial, "partial", "fulfilled"), "unfulfilled")
    return np.where(restocked, "restocked", status).tolist()


def _yes_no(flags: np.ndarray) -> list[str]:
    return np.where(flags, "yes", "no").tolist()


def _money(values: np.ndarray) -> list[str]:
    """Format non-negative amounts with two decimals: 4.9 -> "4.90"."""
    cents = np.rint(np.asarray(values) * 100).astype(np.int64)
    whole = np.strings.add(integer_strings(cents // 100), ".")
    return np.strings.add(whole, TWO_DIGIT_STRINGS[cents % 100]).tolist()
