"""One module per command; the dispatcher finds them here."""
