"""Oracles of the geometry family."""
