"""Handshake state machines: one module per side and version."""
