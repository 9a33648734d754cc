"""Rule files (YAML) shipped as package data: lifecycles, matchers, scoring, exceptions."""
