"""Spoken safe word: offline keyword spotting of a client's phrase in their inbound audio.

Import from the modules (``server.safeword.service`` and so on): importing them here would make
``python -m server.safeword.bank`` load its own module twice.
"""
