"""The callers' drill: `bench/edge [--slow 1000] [--disconnects 200] [--agents 32] [--seconds 20]`.

Normal agents (key A, their own threads and kept-alive connections) call /v1 against an upstream
answering after --latency, first alone (their usual latency), then while 1,000 connections from
another address send a request head a byte a second (reopened whenever the gateway closes one)
and 200 streamed calls (key B) hang up after their first tokens. Exits non-zero unless every
normal request under attack is a 200 within its usual latency (the calm phase's p99) plus 1 s,
key A's tokens as the gateway charged them equal the usage in the answers it gave (the warm-up's
included), and key B's charge, and the two keys' together, match the tokens the simulator
generated (each answer's prompt and the completion tokens it wrote to the socket; key A's calls
are its plain answers, key B's its streams) within IN_FLIGHT tokens a hung-up stream. The
attackers run in a process of their own (see `attack`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import selectors
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench import stack, verdicts  # noqa: E402
from bench.capacity import CONTENT, STREAM_TOKENS  # noqa: E402
from bench.load import PROMPT  # noqa: E402
from llmfallback.simulator.control import SimulatorControl  # noqa: E402

ATTACKER = "127.0.0.2"  # the slow clients' own address (any 127.x.x.x is loopback on Linux)
METRICS_TOKEN = "edge-drill-metrics"
BODY = {"model": "auto", "messages": PROMPT, "max_tokens": 64}
# What a hung-up stream may be charged off by: the chunks the simulator wrote into the socket
# after the caller left and before the gateway, noticing, closed the upstream. The gateway never
# reads them (at 60 tokens a second, a token a chunk, one or two in that gap).
IN_FLIGHT = 2


def agents(url: str, key: str, n: int, seconds: float) -> list[tuple[float, int, int]]:
    """(latency s, status, total_tokens) of every call n agents made in `seconds`."""
    out, stop_at = [], time.monotonic() + seconds

    def one_agent():
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
            while time.monotonic() < stop_at:
                started = time.monotonic()
                try:
                    r = client.post(f"{url}/v1/chat/completions", json=BODY)
                    tokens = r.json().get("usage", {}).get("total_tokens", 0) if r.is_success else 0
                    out.append((time.monotonic() - started, r.status_code, tokens))
                except httpx.HTTPError:
                    out.append((time.monotonic() - started, 0, 0))

    with ThreadPoolExecutor(n) as pool:
        for _ in range(n):
            pool.submit(one_agent)
    return out


class SlowHeaders(threading.Thread):
    """n connections from ATTACKER, each sending a request head one byte a second."""

    HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 4000

    def __init__(self, url: str, n: int) -> None:
        super().__init__(daemon=True)
        self.address = urlsplit(url).hostname, urlsplit(url).port
        self.n, self.stopping = n, threading.Event()
        self.opened = self.closed_by_server = 0

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        socks: dict[socket.socket, int] = {}
        while not self.stopping.is_set():
            while len(socks) < self.n:
                sock = self._open()
                if sock is None:
                    break
                socks[sock] = 0
                sel.register(sock, selectors.EVENT_READ)
            for key, _ in sel.select(timeout=1.0):  # readable: the gateway closed it
                sel.unregister(key.fileobj)
                del socks[key.fileobj]
                key.fileobj.close()
                self.closed_by_server += 1
            for sock, sent in list(socks.items()):
                try:
                    sock.send(self.HEAD[sent : sent + 1])
                    socks[sock] = sent + 1
                except OSError:
                    sel.unregister(sock)
                    del socks[sock]
                    sock.close()
                    self.closed_by_server += 1
        for sock in socks:
            sock.close()

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(self.address, timeout=2, source_address=(ATTACKER, 0))
        except OSError:
            return None
        sock.setblocking(False)
        self.opened += 1
        return sock


def attack(url: str, key: str, slow: int, hang_ups: int, started, stop, results) -> None:
    """The slow heads and the hang-ups, in a process of their own, as they would come from
    machines of their own: beside the agents' threads, their Python (a thousand sockets written
    a byte a second, twenty streams read) held the GIL those threads waited on, and the drill
    measured itself: agents calling the simulator directly, with no gateway between, went from
    a p99 of 1.2 s to 2.8 s beside them, and back to 1.3 s with the attackers in a process apart."""
    heads = SlowHeaders(url, slow)
    heads.start()
    started.set()
    hung_up = disconnects(url, key, hang_ups)
    stop.wait()
    heads.stopping.set()
    heads.join()
    results.put(
        {"hung_up": hung_up, "opened": heads.opened, "closed_by_server": heads.closed_by_server}
    )


def disconnects(url: str, key: str, n: int) -> int:
    """n streamed calls that each hang up after their first two content chunks: how many did."""

    def one(_):
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
            with client.stream(
                "POST", f"{url}/v1/chat/completions", json=BODY | {"stream": True}
            ) as r:
                seen = 0
                for line in r.iter_lines():
                    seen += '"content":"' in line and '"content":""' not in line
                    if seen >= 2:
                        return 1
        return 0

    with ThreadPoolExecutor(20) as pool:
        return sum(pool.map(one, range(n)))


def agent_tokens(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    return {
        m[0]: float(m[1])
        for m in re.findall(r'llm_agent_tokens_total\{agent="([^"]+)"\} (\S+)', text)
    }


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--disconnects", type=int, default=200)
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0, help="of the attack")
    parser.add_argument("--latency", type=float, default=1.0, help="the upstream's, seconds")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args(argv)
    with ExitStack() as es:
        tmp = Path(es.enter_context(tempfile.TemporaryDirectory(prefix="d8-edge-")))
        sim_url = es.enter_context(stack.simulator(tmp))
        db_env = es.enter_context(stack.database(args.db, tmp))
        extra = {"LLM_METRICS_TOKEN": METRICS_TOKEN}
        keys: dict[str, str] = {}
        url, key_a, _ = es.enter_context(
            stack.our_service(sim_url, db_env, tmp, extra, more_keys=("edge-b",), keys=keys)
        )
        key_b = keys["edge-b"]
        sim = SimulatorControl(sim_url)
        sim.reset()
        # Plain answers after the latency; streams start after it and last as long again.
        params = {"content": CONTENT, "delay_s": args.latency, "spread_s": args.latency}
        for provider in ("groq", "gemini", "deepseek"):
            sim.script(provider, [{"behavior": "ok", "times": -1, **params}])
        warm = agents(url, key_a, args.agents, 3.0)  # threads, connections, caches
        print(f"calm: {args.agents} agents for 8 s ({load()})", flush=True)
        calm = agents(url, key_a, args.agents, 8.0)
        usual = p99([c[0] for c in calm])
        ctx = multiprocessing.get_context("spawn")
        started, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
        side = ctx.Process(
            target=attack, args=(url, key_b, args.slow, args.disconnects, started, stop, results)
        )
        side.start()
        started.wait(30)
        print(f"attack: {args.slow} slow heads, {args.disconnects} hang-ups ({load()})", flush=True)
        under = agents(url, key_a, args.agents, args.seconds)
        stop.set()
        attackers = SimpleNamespace(**results.get(timeout=120))
        side.join()
        time.sleep(1.5)  # buffered usage is written every 0.25 s
        charged = agent_tokens(url)
        generated = sim.tokens()
    return verdict(
        args, warm + calm, under, usual, attackers, attackers.hung_up, charged, generated
    )


def made(generated: dict, kind: str) -> tuple[int, int]:
    """(answers, tokens) the simulator generated of one kind ("plain" or "stream")."""
    counts = [by_kind[kind] for by_kind in generated.values() if kind in by_kind]
    tokens = sum(c["prompt_tokens"] + c["completion_tokens"] for c in counts)
    return sum(c["calls"] for c in counts), tokens


def verdict(args, calm, under, usual, attack, hung_up, charged, generated) -> int:
    late = [c for c in under if c[1] != 200 or c[0] > usual + 1.0]
    given = sum(c[2] for c in calm + under)
    print(f"\ncalm (after a warm-up): {len(calm)} calls, p99 {usual * 1000:.0f} ms")
    print(f"under attack: {len(under)} calls, p99 {p99([c[0] for c in under]) * 1000:.0f} ms, "
          f"max {max(c[0] for c in under) * 1000:.0f} ms; statuses "
          f"{sorted({c[1] for c in under})}")  # fmt: skip
    print(
        f"slow connections opened {attack.opened}, closed by the gateway {attack.closed_by_server}"
    )
    print(f"streams hung up after their first tokens: {hung_up} of {args.disconnects}")
    print(f"tokens charged: {charged}; in key A's answers: {given}")
    print(f"the simulator generated: {generated}")
    a, b = int(charged.get("bench", 0)), int(charged.get("edge-b", 0))
    (plain, made_a), (streams, made_b) = made(generated, "plain"), made(generated, "stream")
    allowed = IN_FLIGHT * hung_up
    lines = [
        verdicts.target_line(not late, f"normal calls under attack late (> usual + 1 s) or failed: {len(late)}"),
        verdicts.target_line(a == given, f"key A charged {a} = {given} in its answers ({made_a} generated for {plain} plain answers)"),
        verdicts.target_line(abs(b - made_b) <= allowed, f"key B charged {b} for {hung_up} hung-up streams (of {STREAM_TOKENS} tokens each, had they been read); "
                           f"the simulator generated {made_b} for {streams} streams: {b - made_b:+} ({(b - made_b) / max(hung_up, 1):+.2f} a stream, allowed ±{IN_FLIGHT})"),
        verdicts.target_line(abs(a + b - made_a - made_b) <= allowed, f"A + B charged {a + b}, the simulator generated {made_a + made_b}: {a + b - made_a - made_b:+} (allowed ±{allowed})"),
    ]  # fmt: skip
    print("\n".join(lines) + f"\n({load()})")
    return 1 if any("missed" in line for line in lines) else 0


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
