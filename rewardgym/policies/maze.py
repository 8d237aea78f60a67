"""Oracles of the maze family."""
