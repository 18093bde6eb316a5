"""The `tlskit` command line: one module per command, rendering apart from logic."""
