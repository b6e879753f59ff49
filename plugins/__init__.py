"""The built-in business areas, each a plugin registered like a partner's add-on."""
