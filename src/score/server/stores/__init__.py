"""Builders of the object stores from settings: the composition root's half of each storage adapter."""
