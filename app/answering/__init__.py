"""Answering: ask, stream, cite, verify and store answers; what readers see of them, and what they say about them."""
