"""Ticket subjects and descriptions by language, as customers and agents write them.

Placeholders: {order} is an order name of the requester ("#1234"), {name} the
requester's name as written on the ticket. Texts with {order} are used only for
requesters who ordered.
"""

from __future__ import annotations

ORDER_TEXTS = {
    "de": (
        (
            "Bestellung {order} noch nicht angekommen",
            (
                "Hallo,\n\nmeine Bestellung {order} ist leider noch nicht angekommen. "
                "Können Sie bitte nachsehen, wo das Paket ist?\n\nViele Grüße\n{name}"
            ),
        ),
        (
            "Rücksendung {order}",
            (
                "Guten Tag,\n\nich möchte einen Artikel aus der Bestellung {order} "
                "zurückschicken, die Größe passt nicht.\nWie bekomme ich ein "
                "Rücksendeetikett?\n\nDanke und beste Grüße\n{name}"
            ),
        ),
        (
            "Rechnung zu {order}",
            (
                "Hallo zusammen,\n\nbitte schicken Sie mir die Rechnung zu {order} "
                "noch einmal, ich finde sie nicht.\n\nMfG\n{name}"
            ),
        ),
    ),
    "en": (
        (
            "Order {order} has not arrived",
            (
                "Hello,\n\nmy order {order} still has not arrived. Could you check "
                "where the parcel is?\n\nKind regards,\n{name}"
            ),
        ),
        (
            "Return for order {order}",
            (
                "Hi,\n\nI would like to return an item from order {order}, it is too "
                "small.\nHow do I get a return label?\n\nThanks,\n{name}"
            ),
        ),
    ),
}

GENERAL_TEXTS = {
    "de": (
        (
            "Adressänderung",
            (
                "Hallo,\n\nich bin umgezogen. Bitte ändern Sie meine Adresse im "
                "Kundenkonto.\n\nGrüße\n{name}"
            ),
        ),
        (
            "Frage zur Größe",
            (
                "Hallo,\n\nfällt die Softshelljacke eher klein oder groß aus? Ich "
                "trage normalerweise M.\n\nViele Grüße\n{name}"
            ),
        ),
        (
            "Passwort funktioniert nicht",
            (
                "Hallo,\n\nich kann mich nicht mehr in mein Konto einloggen, und der "
                "Link zum Zurücksetzen kommt nicht an.\n\n{name}"
            ),
        ),
        (
            "Newsletter abbestellen",
            "Bitte tragen Sie mich aus dem Newsletter aus.\n\nDanke\n{name}",
        ),
    ),
    "en": (
        (
            "Question about sizes",
            (
                "Hello,\n\ndo your hiking trousers run small? I usually wear a UK 12."
                "\n\nBest,\n{name}"
            ),
        ),
        (
            "Cannot log in",
            (
                "Hi,\n\nI cannot log in to my account and the password reset e-mail "
                "never arrives.\n\n{name}"
            ),
        ),
        (
            "Shipping to my country",
            (
                "Hello,\n\nhow long does delivery take, and do I pay customs?\n\n"
                "Thank you\n{name}"
            ),
        ),
    ),
}

# Agents write phone tickets themselves, in German regardless of the caller.
PHONE_TEXTS = (
    (
        "Anruf: Lieferstatus",
        "Anruf von {name}.\nKunde fragt nach dem Lieferstatus.\nRückruf zugesagt.",
    ),
    (
        "Anruf: Reklamation",
        (
            "Anruf von {name}.\nReißverschluss der Jacke defekt.\nFotos per E-Mail "
            "angefordert."
        ),
    ),
    (
        "Anruf: Kundenkonto",
        (
            "Anruf von {name}.\nMöchte das Kundenkonto löschen lassen.\nAn Datenschutz "
            "weitergeleitet."
        ),
    ),
)
