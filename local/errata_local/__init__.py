"""Errata's local stack: the real handlers on an embedded AWS (moto in server mode)."""
