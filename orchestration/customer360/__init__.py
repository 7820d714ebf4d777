"""Customer 360: a small read-only web app over the marts for service staff.

``cdp serve`` starts it. Staff search by email, phone, name or customer id and see
one page per customer. The app opens the warehouse read-only for each request and
closes it before responding, so the nightly writer is kept out for milliseconds only.
"""
