"""Prefect flows that wire the tasks of extract/, classify/ and warehouse/ together."""
