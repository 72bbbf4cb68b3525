"""Tests of the media relay (server/relay)."""
