"""Built-in rule modules: one business decision per module, pure functions."""
