"""Oracles of the exploration family."""
