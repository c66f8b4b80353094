"""Prefect flows that wire the library's steps; no logic of their own."""
