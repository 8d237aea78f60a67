"""Oracles of the manipulation family."""
