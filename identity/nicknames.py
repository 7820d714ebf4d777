"""Known nicknames of first names, for the identifier graph's name comparison.

The graph's typo and containment rules already accept a short form that the full
name contains (Alex, Alexander; Lisa, Elisabeth). This list adds the ones they miss,
because the short form changes letters (Kathi, Katharina) or shares few at all
(Bill, William; Sepp, Josef). Spellings are folded as ``normalize.fold_text_sql``
folds them: lower case, umlauts as two letters, no accents.
"""

from __future__ import annotations

# (full name, nickname). Compiled by hand from common German, English, Dutch and
# Italian usage, so it is not complete. A nickname that is also a name of its own
# (Hans, Bill) makes two household members who share an address look like one
# person. On a generated hard-mode sample, 8 of the 88 links the list added did so.
NICKNAMES: tuple[tuple[str, str], ...] = (
    # German
    ("andreas", "andi"), ("andreas", "andy"), ("anton", "toni"),
    ("barbara", "babsi"), ("cornelia", "conny"), ("elisabeth", "betti"),
    ("elisabeth", "elli"), ("elisabeth", "liesel"), ("friederike", "frieda"),
    ("friedrich", "fritz"), ("gabriele", "gabi"), ("gerhard", "gerd"),
    ("heinrich", "heini"), ("heinrich", "heinz"), ("helene", "leni"),
    ("henriette", "jette"), ("johanna", "hanni"), ("johannes", "hans"),
    ("josef", "jupp"), ("josef", "sepp"), ("joseph", "sepp"),
    ("katharina", "kaethe"), ("katharina", "kathi"), ("katharina", "kati"),
    ("konstantin", "konsti"), ("leopold", "poldi"), ("ludwig", "lutz"),
    ("magdalena", "leni"), ("margarete", "grete"), ("margarete", "gretel"),
    ("margarethe", "grete"), ("margarethe", "gretel"), ("matthias", "matze"),
    ("michael", "michi"), ("reinhard", "reini"), ("rudolf", "rudi"),
    ("stefanie", "steffi"), ("stephanie", "steffi"), ("susanne", "susi"),
    ("theresa", "resi"), ("therese", "resi"), ("thomas", "tom"),
    ("thomas", "tommy"), ("ulrich", "uli"), ("ulrich", "ulli"),
    ("veronika", "vroni"), ("wilhelm", "willi"), ("wilhelm", "willy"),
    ("wolfgang", "wolfi"),
    # English
    ("abigail", "abby"), ("andrew", "andy"), ("anthony", "tony"),
    ("catherine", "cathy"), ("catherine", "kate"), ("charles", "charlie"),
    ("charles", "chuck"), ("daniel", "danny"), ("deborah", "debbie"),
    ("edward", "eddie"), ("edward", "ted"), ("elizabeth", "betty"),
    ("elizabeth", "lizzy"), ("henry", "hank"), ("henry", "harry"),
    ("james", "jim"), ("james", "jimmy"), ("jennifer", "jenny"),
    ("john", "jack"), ("john", "johnny"), ("katherine", "kate"),
    ("katherine", "katie"), ("margaret", "maggie"), ("margaret", "peggy"),
    ("michael", "mike"), ("patricia", "patty"), ("patricia", "trish"),
    ("rebecca", "becky"), ("richard", "dick"), ("richard", "rick"),
    ("robert", "bob"), ("robert", "bobby"), ("robert", "robbie"),
    ("susan", "susie"), ("theodore", "teddy"), ("victoria", "vicky"),
    ("william", "bill"), ("william", "billy"),
    # Dutch and Italian
    ("giovanni", "gianni"), ("giuseppe", "beppe"), ("giuseppe", "peppe"),
    ("giuseppe", "pino"), ("hendrik", "hein"), ("hendrik", "henk"),
    ("johannes", "jan"),
)  # fmt: skip


def nickname_pair_sql(left: str, right: str) -> str:
    """Return a SQL condition that is true when two folded first names are a name
    and one of its ``NICKNAMES``, in either order.

    The condition is an IN list of 'name|nickname' strings, one hash lookup per
    pair of names.
    """
    pairs = {f"{name}|{nickname}" for name, nickname in NICKNAMES}
    pairs |= {f"{nickname}|{name}" for name, nickname in NICKNAMES}
    listed = ", ".join(f"'{pair}'" for pair in sorted(pairs))
    return f"concat({left}, '|', {right}) in ({listed})"
