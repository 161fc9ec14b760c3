"""Gemini's streamGenerateContent?alt=sse: a whole generateContent answer cut into its chunks."""


def chunks(obj):
    """A whole answer as streamGenerateContent?alt=sse sends it (vercel/ai google-text.chunks.txt
    and google-tool-call.chunks.txt): each chunk a whole response with the next text and the
    usage so far (candidatesTokenCount grows chunk by chunk), finishReason only on the last; a
    function call comes whole, then an empty text part carries the finishReason. No [DONE]: the
    connection closes after the last chunk. Each chunk comes with the tokens it adds."""
    candidate = (obj.get("candidates") or [None])[0]
    parts = ((candidate or {}).get("content") or {}).get("parts") or []
    meta = obj.get("usageMetadata") or {}
    if not candidate or not parts:
        return [(obj, meta.get("candidatesTokenCount", 0))]
    texts = [p for p in parts if "text" in p]
    calls = [p for p in parts if "functionCall" in p]
    pieces = [{"text": w} for t in texts for w in _words(t["text"])] + calls
    if calls or not pieces:
        pieces.append({"text": ""})
    tokens = [len(p.get("text", "").split()) for p in pieces]
    tokens[-1] += max(0, meta.get("candidatesTokenCount", 0) - sum(tokens))
    out, so_far = [], 0
    for n, part in enumerate(pieces):
        piece = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if n == len(pieces) - 1:
            piece["finishReason"] = candidate.get("finishReason", "STOP")
        so_far += tokens[n]
        out.append(
            (obj | {"candidates": [piece], "usageMetadata": _so_far(meta, so_far)}, tokens[n])
        )
    return out


def _so_far(meta, tokens):
    """The usage of an answer `tokens` into its candidates (a tool call's has no count)."""
    if "candidatesTokenCount" not in meta:
        return meta
    return meta | {
        "candidatesTokenCount": tokens,
        "totalTokenCount": meta.get("promptTokenCount", 0) + tokens,
    }


def _words(text):
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]] if text else [""]
