"""The fallback engine: plain Python, no Django. Providers, a health store and a clock are passed in."""
