"""The SQL layer: the engine and migrations, and the tables by concern (accounts, library, answers, evaluation, reviews)."""
