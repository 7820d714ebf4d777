"""Fixed content of the simulated shop and its marketing: products, campaigns,
lead ads, web pages and helpdesk ticket texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHOP_DOMAIN = "www.nordwand-outdoor.example"
SIZES = ("S", "M", "L", "XL")

# (product name, price in EUR, variants). An empty tuple means one variant.
PRODUCTS = (
    ("Merino-Shirt Langarm", 69.90, SIZES),
    ("Softshelljacke", 149.00, SIZES),
    ("Wanderhose Zip-Off", 89.95, SIZES),
    ("Regenjacke Damen", 179.00, ("XS", "S", "M", "L")),
    ("Daunenweste", 129.00, SIZES),
    ("Fleecepullover", 79.90, SIZES),
    ("Wandersocken 2er-Pack", 19.95, ("39-42", "43-46")),
    ("Trekkingschuhe", 159.00, ("40", "41", "42", "43", "44", "45")),
    ("Rucksack 30 L", 119.00, ("Schwarz", "Petrol")),
    ("Tagesrucksack 18 L", 69.00, ("Grau", "Rot")),
    ("Thermosflasche 0,75 l", 34.90, ("Edelstahl", "Schwarz")),
    ("Stirnlampe 400 lm", 49.95, ()),
    ("Trinkblase 2 l", 24.90, ()),
    ("Schlafsack Sommer", 139.00, ("Regular", "Long")),
    ("Isomatte", 89.00, ()),
    ("Mütze aus Merinowolle", 29.90, ()),
    ("Handschuhe Touchscreen", 24.95, ("S/M", "L/XL")),
    ("Funktionsshirt", 34.95, SIZES),
    ("Wanderstöcke Carbon", 99.00, ()),
    ("Zelt 2 Personen", 349.00, ()),
    ("Gaskocher", 59.90, ()),
    ("Erste-Hilfe-Set", 19.90, ()),
    ("Sonnenbrille Sport", 79.00, ()),
    ("Kompressionsbeutel", 14.95, ("S", "M", "L")),
    ("Geschenkgutschein", 50.00, ()),
)

# Shop prices per currency, as multiples of the EUR price.
CURRENCY_FACTORS = {"EUR": 1.0, "CHF": 0.95, "GBP": 0.86, "USD": 1.08}
DISCOUNT_CODES = (("WILLKOMMEN10", 0.10), ("SOMMER15", 0.15), ("BLACKWEEK20", 0.20))
FREE_SHIPPING_FROM = 50.0
SHIPPING_FEES = {"EUR": 4.90, "CHF": 6.90, "GBP": 3.95, "USD": 5.90}


@dataclass(frozen=True)
class Catalog:
    """Sellable variants: one entry per (product, variant)."""

    names: np.ndarray
    skus: np.ndarray
    prices: np.ndarray
    product_numbers: np.ndarray


def build_catalog() -> Catalog:
    names, skus, prices, numbers = [], [], [], []
    for number, (product, price, variants) in enumerate(PRODUCTS, start=1001):
        for variant in variants or ("",):
            names.append(f"{product} - {variant}" if variant else product)
            suffix = "".join(char for char in variant.upper() if char.isalnum())
            skus.append(f"NW-{number}-{suffix}" if suffix else f"NW-{number}")
            prices.append(price)
            numbers.append(number)
    return Catalog(
        names=np.array(names, dtype=object),
        skus=np.array(skus, dtype=object),
        prices=np.array(prices),
        product_numbers=np.array(numbers),
    )


# Campaign names: the monthly newsletter, and a promotion that fits the season.
MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
PROMOTIONS_BY_MONTH = (
    "Winterschlussverkauf",
    "Skitouren-Special",
    "Frühlings-Sale",
    "Ostergeschenke",
    "Wandertipps",
    "Sommer-Sale",
    "Sommer-Sale",
    "Zelt-Wochen",
    "Neue Herbstkollektion",
    "Herbst-Sale",
    "Black Week",
    "Weihnachtsgeschenke",
)
EMAIL_LINK_PATHS = (
    "/",
    "/collections/neuheiten",
    "/collections/sale",
    "/collections/jacken",
    "/collections/rucksaecke",
    "/blogs/wandertipps/alpenueberquerung",
    "/pages/gutscheine",
)

# (ad name, ad set, campaign, form). The ad id is derived from the position.
LEAD_ADS = (
    (
        "Gewinnspiel Rucksack Video",
        "DACH 25-45 Outdoor",
        "Gewinnspiel Herbst",
        "Gewinnspiel Rucksack",
    ),
    (
        "Gewinnspiel Rucksack Karussell",
        "DACH Lookalike 1%",
        "Gewinnspiel Herbst",
        "Gewinnspiel Rucksack",
    ),
    ("Katalog 2026 Bild", "DE Interessen Wandern", "Katalog 2026", "Katalog anfordern"),
    (
        "Katalog 2026 Story",
        "AT CH Interessen Bergsport",
        "Katalog 2026",
        "Katalog anfordern",
    ),
    (
        "Newsletter 10% Rabatt",
        "DACH Retargeting 30 Tage",
        "Newsletter Leads",
        "Newsletter-Anmeldung",
    ),
    ("Newsletter Reels", "DACH 18-35", "Newsletter Leads", "Newsletter-Anmeldung"),
    (
        "Event Wandertag Bild",
        "Bayern Tirol 50 km",
        "Wandertag 2026",
        "Anmeldung Wandertag",
    ),
    (
        "Europe Newsletter",
        "EU English speakers",
        "Newsletter Leads",
        "Newsletter sign-up",
    ),
)

# Segment call types. Web events store the index into this tuple.
EVENT_KINDS = ("page", "screen", "track", "identify")
PAGE, SCREEN, TRACK, IDENTIFY = range(len(EVENT_KINDS))
TRACK_EVENTS = (
    ("Product Viewed", 0.38),
    ("Product Added", 0.18),
    ("Product Removed", 0.04),
    ("Products Searched", 0.1),
    ("Checkout Started", 0.09),
    ("Order Completed", 0.07),
    ("Signed Up", 0.04),
    ("Newsletter Subscribed", 0.05),
    ("Coupon Applied", 0.05),
)
TRACK_NAMES = tuple(name for name, _ in TRACK_EVENTS)
WEB_PAGES = (
    ("Startseite", "/"),
    ("Neuheiten", "/collections/neuheiten"),
    ("Jacken", "/collections/jacken"),
    ("Rucksäcke", "/collections/rucksaecke"),
    ("Sale", "/collections/sale"),
    ("Warenkorb", "/cart"),
    ("Kasse", "/checkout"),
    ("Wandertipps", "/blogs/wandertipps"),
    ("Kontakt", "/pages/kontakt"),
    ("Mein Konto", "/account"),
)
REFERRERS = (
    "",
    "https://www.google.com/",
    "https://www.google.de/",
    "https://www.bing.com/",
    "https://www.instagram.com/",
    "https://l.facebook.com/",
    "https://duckduckgo.com/",
)
WEB_CAMPAIGNS = (
    ("newsletter", "email", "newsletter"),
    ("google", "cpc", "brand_dach"),
    ("google", "cpc", "generic_rucksack"),
    ("facebook", "paid_social", "herbst_gewinnspiel"),
    ("instagram", "paid_social", "katalog_2026"),
)
USER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
        " AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0)"
        " Gecko/20100101 Firefox/133.0"
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
        " AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)"
        " AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Version/18.1 Mobile/15E148 Safari/604.1"
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B)"
        " AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7)"
        " AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36"
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X)"
        " AppleWebKit/605.1.15 (KHTML, like Gecko)"
        " Version/17.6 Mobile/15E148 Safari/604.1"
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64)"
        " AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    ),
)
