"""`python -m llmfallback.simulator [--host 127.0.0.1] [--port 7900]`, no Django needed."""

import argparse

from .server import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m llmfallback.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7900)
    args = parser.parse_args(argv)
    serve(args.host, args.port, out=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
