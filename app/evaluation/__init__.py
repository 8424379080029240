"""Evaluation as the application runs it: eval collections in SQL and the index, stored runs, answer quality, feedback export.

``eval/`` holds the pure parts (data sets, metrics, runners, tuning over values
and callables); this package gives them what they need from the application
and keeps what they produce.
"""
