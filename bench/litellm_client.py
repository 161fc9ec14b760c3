"""LiteLLM's own client against our /v1: run with bench/.venv-litellm/bin/python (bench/run does).

    bench/.venv-litellm/bin/python bench/litellm_client.py http://127.0.0.1:7001/v1 d8_...

Prints one OK/FAIL line per check and exits 1 if any failed.
"""

import sys


def checks(api_base: str, key: str):
    import litellm

    args = {"model": "openai/auto", "api_base": api_base, "api_key": key}
    messages = [{"role": "user", "content": "Say hi in one word."}]

    def plain():
        r = litellm.completion(messages=messages, max_tokens=16, **args)
        text = r.choices[0].message.content
        assert text, "empty answer"
        assert r.usage.total_tokens > 0, "no usage"
        return f"{r.model!r}: {text[:40]!r}"

    def streamed():
        parts = litellm.completion(messages=messages, stream=True, **args)
        text = "".join(c.choices[0].delta.content or "" for c in parts)
        assert text, "empty stream"
        return f"{text[:40]!r}"

    def pinned_model():
        import httpx  # litellm's own dependency

        listed = httpx.get(f"{api_base}/models", headers={"Authorization": f"Bearer {key}"})
        pinned = next(m["id"] for m in listed.json()["data"] if m["id"].startswith("gemini/"))
        r = litellm.completion(messages=messages, **(args | {"model": f"openai/{pinned}"}))
        assert r.choices[0].message.content
        return f"{pinned} answered"

    def bad_key():
        try:
            litellm.completion(messages=messages, **(args | {"api_key": "d8_wrong"}))
        except litellm.AuthenticationError as e:
            return f"AuthenticationError {e.status_code}"
        raise AssertionError("a wrong key was accepted")

    return [
        ("completion", plain),
        ("stream", streamed),
        ("pinned model", pinned_model),
        ("wrong key", bad_key),
    ]


def main(argv: list[str]) -> int:
    api_base, key = argv[1], argv[2]
    failed = 0
    for name, check in checks(api_base, key):
        try:
            print(f"OK   litellm.completion {name}: {check()}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
            failed += 1
            print(f"FAIL litellm.completion {name}: {type(e).__name__}: {e}"[:500], flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
