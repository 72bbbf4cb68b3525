"""A small built-in list of very common English words that make poor safe words."""

from __future__ import annotations

from typing import Final

# Roughly the most frequent English words plus everyday chat words; a safe word from this list
# would be typed by accident. Stored already normalised (lower case, no accents or apostrophes).
_LISTED: Final = """
    a about after again all also always am an and any are around as ask at away back bad be
    because been before being best better big both but by bye call came can cant come could
    day did didnt do does doesnt doing done dont down each even every feel find first for from
    get give go going good got great had has have he hello help her here hey hi him his home
    how i if im in into is it its ive just keep know last leave let life like little long
    look lot love made make man many maybe me mean mind more most much must my need never new
    next nice no not nothing now of off oh ok okay old on once one only or other our out over
    own people please put really right said same say see seem she should so some something
    sorry start still stop such sure take talk tell than thank thanks that thats the their them
    then there these they thing things think this those though thought through time to today
    told too try two um under up us use very want was way we well went were what when where
    which while who why will with without work would yeah year yes yet you your yours
    """

COMMON_WORDS: Final[frozenset[str]] = frozenset(_LISTED.split())
"""The list, as a set of normalised words."""
