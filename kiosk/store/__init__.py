"""Persistence: peewee models and opening a database from a URL."""
