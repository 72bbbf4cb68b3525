"""Reproducible ordinary English sentences for the speech bank, generated from templates."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

# Everything below was written for Haven and is under the project's licence (AGPL-3.0-or-later).
_PEOPLE = (
    "my mother", "my father", "my sister", "my brother", "my partner", "my friend", "my boss",
    "the teacher", "the neighbour", "my aunt", "my grandmother", "the doctor", "my cousin",
    "the landlord", "my son", "my daughter", "our manager", "the nurse", "my flatmate", "Sarah",
    "James", "Priya", "Tom", "Aisha", "Daniel", "Maria", "the social worker", "my uncle",
)
_PLACES = (
    "the kitchen", "the office", "the shop", "the station", "the garden", "the library",
    "the hospital", "the school", "the park", "the bus stop", "the car park", "the cafe",
    "the gym", "the bathroom", "the supermarket", "the church", "the pharmacy", "the beach",
    "the town centre", "the waiting room", "my bedroom", "the corridor", "the canteen",
)
_TIMES = (
    "yesterday", "last night", "this morning", "on Sunday", "last week", "in the afternoon",
    "after lunch", "before work", "every evening", "at the weekend", "on Tuesday", "in March",
    "two days ago", "around midnight", "after the appointment", "during the holidays",
)
_FEELINGS = (
    "anxious", "tired", "relieved", "frustrated", "lonely", "hopeful", "overwhelmed", "calm",
    "nervous", "embarrassed", "proud", "confused", "exhausted", "grateful", "irritated",
    "restless", "guilty", "settled", "uneasy", "content", "disappointed", "cheerful",
)
_THINGS = (
    "the letter", "the bill", "the car", "the dishes", "the laundry", "the rent", "the phone",
    "the keys", "the computer", "the medicine", "the shopping", "the garden fence",
    "the kettle", "the washing machine", "the train tickets", "the forms", "the homework",
    "the radio", "the sofa", "the bicycle", "the blanket", "the calendar", "the biscuits",
)
_VERBS = (
    "fixed", "cleaned", "forgot", "found", "moved", "paid", "sorted out", "checked", "opened",
    "carried", "painted", "returned", "borrowed", "cooked", "posted", "tidied", "packed",
    "collected", "repaired", "dropped", "ordered", "cancelled", "delivered", "replaced",
)
_ACTIVITIES = (
    "walking the dog", "reading a novel", "watching football", "cooking dinner",
    "going swimming", "talking on the phone", "working late", "sleeping badly",
    "listening to music", "playing cards", "writing emails", "doing the crossword",
    "visiting relatives", "learning to drive", "baking bread", "painting the hallway",
    "looking for a job", "saving money", "running in the morning", "knitting a scarf",
)
_TEMPLATES = (
    "{time} I went to {place} with {person}.",
    "I felt {feeling} when {person} called me {time}.",
    "{person} {verb} {thing} {time}, which was nice.",
    "I have been {activity} a lot recently.",
    "Honestly I think {person} was {feeling} about {thing}.",
    "We talked about {thing} in {place} for a while.",
    "It was {feeling}, really, because {person} never {verb} {thing}.",
    "Do you remember when {person} {verb} {thing} {time}?",
    "I keep {activity}, and it makes me feel {feeling}.",
    "{time} was difficult, I was {feeling} most of the day.",
    "I think I should tell {person} that I {verb} {thing}.",
    "Maybe next week I will try {activity} again.",
    "When I got to {place}, {person} had already {verb} {thing}.",
    "It is hard to explain, but I felt {feeling} and {feeling2}.",
    "I wanted to ask you about {thing}, because {person} mentioned it.",
    "So {time} I was {activity}, and then I went to {place}.",
    "Sometimes I feel {feeling} for no reason at all.",
    "{person} says I worry too much about {thing}.",
    "I slept for about {number} hours and then got up.",
    "There were {number} people waiting in {place} {time}.",
    "I spent {number} pounds on {thing} and I regret it.",
    "We agreed to meet at {place} at {number} o'clock.",
    "The bus was {number} minutes late again {time}.",
    "If I am honest, {activity} is the only thing that helps.",
    "I would like to talk about {person} today, if that is all right.",
    "Well, I suppose it went better than I expected.",
    "Could you say that again? I did not quite catch it.",
    "I am not sure what to think about {thing} any more.",
    "{person} and I had an argument about {thing} {time}.",
    "I was {feeling} because {person} was late and I was stuck in {place}.",
)
_NUMBERS = (
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty", "forty", "fifty",
)


def template_sentences(seed: int) -> Iterator[str]:
    """Yield an endless, reproducible stream of ordinary conversational sentences."""
    rng = random.Random(seed)
    while True:
        template = rng.choice(_TEMPLATES)
        text = template.format(
            person=rng.choice(_PEOPLE), place=rng.choice(_PLACES), time=rng.choice(_TIMES),
            feeling=rng.choice(_FEELINGS), feeling2=rng.choice(_FEELINGS),
            thing=rng.choice(_THINGS), verb=rng.choice(_VERBS), activity=rng.choice(_ACTIVITIES),
            number=rng.choice(_NUMBERS),
        )
        yield text[0].upper() + text[1:]


def word_sentences(seed: int, vocabulary: Sequence[str]) -> Iterator[str]:
    """Yield reproducible strings of dictionary words, for sounds the templates never use."""
    rng = random.Random(seed)
    while True:
        yield " ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 12))) + "."


def mixed_sentences(seed: int, vocabulary: Sequence[str], word_share: float) -> Iterator[str]:
    """Interleave template sentences with a share of dictionary-word strings."""
    rng = random.Random(seed)
    templates, words = template_sentences(seed + 1), word_sentences(seed + 2, vocabulary)
    while True:
        yield next(words) if vocabulary and rng.random() < word_share else next(templates)
