"""A loopback HTTP server that answers like Groq, Gemini and DeepSeek, byte for byte, on cue.

Shares no code with llmfallback.providers: it is the independent witness the adapters are tested
against. Start it with `python -m llmfallback.simulator` or `manage.py simulate_providers`.
Drive it over /_sim (control.py): script behaviours per provider and key, start a seeded chaos
schedule (chaos.py), read call counters and the call log (arrival time, key fingerprint and
what was served), reset.
"""
