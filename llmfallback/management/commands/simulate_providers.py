"""Run the loopback provider simulator (Groq, Gemini, DeepSeek) in the foreground."""

from django.core.management.base import BaseCommand

from llmfallback.simulator.server import serve


class Command(BaseCommand):
    help = "Serve simulated Groq, Gemini and DeepSeek APIs on loopback, scriptable via /_sim."
    requires_system_checks = []  # the simulator needs no provider keys; their warnings would mislead

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=7900)

    def handle(self, *args, host, port, **options):
        serve(host, port, out=lambda line: self.stdout.write(line))
