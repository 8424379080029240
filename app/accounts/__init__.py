"""Accounts: users, groups, memberships, and the `Actor` every write use case receives."""
