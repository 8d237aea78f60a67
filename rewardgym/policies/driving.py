"""Oracles of the driving family."""
