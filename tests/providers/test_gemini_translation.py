"""OpenAI's tools, tool results and JSON schema as Gemini's native API takes them, and back."""

import json

from llmfallback.core.types import ChatRequest, JsonSchema, Message, Tool, ToolCall, ToolChoice
from llmfallback.providers import Gemini
from llmfallback.providers.gemini_wire import SKIP_SIGNATURE, schema_out
from tests.providers.helpers import GEMINI_KEY, NOW, TIMEOUTS, client_for, replying

WEATHER = Tool(
    "get_weather",
    "Current weather in a city",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
    strict=True,
)
# A functionCall answer as Gemini 2.5 sends it (vercel/ai packages/google/src/__fixtures__/
# google-tool-call.json): args an object, no id, finishReason STOP.
FUNCTION_CALL_ANSWER = {
    "candidates": [
        {
            "content": {
                "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 29, "candidatesTokenCount": 15, "totalTokenCount": 44},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "m36LaZGyCLz1xs0PtNSB-QU",
}


def gemini(handler, model="gemini-2.5-flash") -> Gemini:
    return Gemini(
        name="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        model=model,
        client=client_for(handler),
        keys=(GEMINI_KEY,),
        wallclock=lambda: NOW,
    )


def sent(request: ChatRequest, answer=FUNCTION_CALL_ANSWER, model="gemini-2.5-flash"):
    """(the JSON body Gemini received, the Completion it produced)."""
    seen = []
    completion = gemini(replying(200, json.dumps(answer), seen=seen), model).chat(
        request, key=GEMINI_KEY, timeouts=TIMEOUTS
    )
    return json.loads(seen[0].content), completion


def tool_conversation(**kwargs) -> ChatRequest:
    call = ToolCall("call_abc123", "get_weather", '{"city": "Paris"}')
    return ChatRequest(
        (
            Message("system", "Use tools."),
            Message("user", "Weather in Paris?"),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", '{"temp_c": 21}', tool_call_id="call_abc123"),
        ),
        tools=(WEATHER,),
        **kwargs,
    )


def test_tools_become_function_declarations_without_what_gemini_rejects():
    body, _ = sent(tool_conversation())
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration == {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "nullable": True, "enum": ["c", "f"]},
            },
            "required": ["city"],
        },
    }


def test_assistant_tool_calls_and_tool_results_become_function_call_and_response_parts():
    body, _ = sent(tool_conversation())
    assert body["systemInstruction"] == {"parts": [{"text": "Use tools."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"output": {"temp_c": 21}},
                    }
                }
            ],
        },
    ]


def test_parallel_tool_results_answer_in_one_turn_and_text_results_stay_text():
    calls = (ToolCall("c1", "get_weather", '{"city":"Paris"}'), ToolCall("c2", "get_weather", "{}"))
    request = ChatRequest(
        (
            Message("user", "Paris and Tokyo?"),
            Message("assistant", "Checking.", tool_calls=calls),
            Message("tool", "sunny", tool_call_id="c1"),
            Message("tool", "rain", tool_call_id="c2"),
        ),
        tools=(WEATHER,),
    )
    body, _ = sent(request)
    model_turn, results = body["contents"][1], body["contents"][2]
    assert model_turn["parts"][0] == {"text": "Checking."}
    assert len(model_turn["parts"]) == 3
    assert [p["functionResponse"]["response"] for p in results["parts"]] == [
        {"output": "sunny"},
        {"output": "rain"},
    ]
    assert len(body["contents"]) == 3


def test_replayed_calls_carry_the_documented_signature_stand_in_on_gemini_3_only():
    body, _ = sent(tool_conversation(), model="gemini-3-flash-preview")
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE
    body, _ = sent(tool_conversation())
    assert "thoughtSignature" not in body["contents"][1]["parts"][0]


def test_tool_choice_maps_to_function_calling_config():
    cases = {
        ToolChoice("auto"): {"mode": "AUTO"},
        ToolChoice("none"): {"mode": "NONE"},
        ToolChoice("required"): {"mode": "ANY"},
        ToolChoice("required", "get_weather"): {
            "mode": "ANY",
            "allowedFunctionNames": ["get_weather"],
        },
    }
    for choice, expected in cases.items():
        body, _ = sent(tool_conversation(tool_choice=choice))
        assert body["toolConfig"] == {"functionCallingConfig": expected}


def test_sampling_options_map_to_generation_config_and_unset_ones_are_not_sent():
    request = ChatRequest(
        (Message("user", "Hi"),),
        temperature=None,
        max_tokens=None,
        stop=("END",),
        top_p=0.5,
        seed=7,
    )
    body, _ = sent(request, answer=_text_answer("Hello"))
    assert body["generationConfig"] == {"topP": 0.5, "seed": 7, "stopSequences": ["END"]}


def test_json_schema_sets_mime_type_and_a_response_schema_with_refs_inlined():
    schema = {
        "$defs": {
            "Step": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
            "kind": {"const": "plan"},
        },
        "required": ["steps"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    request = ChatRequest(
        (Message("user", "Plan"),), json_mode=True, json_schema=JsonSchema("plan", schema)
    )
    body, completion = sent(request, answer=_text_answer('{"steps": []}'))
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
            },
            "kind": {"enum": ["plan"]},
        },
        "required": ["steps"],
    }
    assert completion.content == '{"steps": []}'


def test_a_cyclic_ref_is_cut_not_followed_forever():
    schema = {
        "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
        "$ref": "#/$defs/N",
    }
    assert schema_out(schema)["type"] == "object"


def test_multi_part_text_becomes_one_text_part_each():
    request = ChatRequest((Message("user", "ab", parts=("a", "b")),))
    body, _ = sent(request, answer=_text_answer("ok"))
    assert body["contents"][0]["parts"] == [{"text": "a"}, {"text": "b"}]


def test_function_call_parts_come_back_as_openai_tool_calls():
    _, completion = sent(tool_conversation())
    (call,) = completion.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_") and len(call.id) <= 40  # OpenAI's tool_call_id limit
    assert completion.finish_reason == "tool_calls"
    assert completion.content is None
    assert completion.id == "m36LaZGyCLz1xs0PtNSB-QU"


def test_each_call_gets_its_own_id_and_gemini_ids_are_kept():
    answer = json.loads(json.dumps(FUNCTION_CALL_ANSWER))
    parts = answer["candidates"][0]["content"]["parts"]
    parts.append({"functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}, "id": "g-7"}})
    parts.append({"functionCall": {"args": {}}})  # no name: not a call
    _, completion = sent(tool_conversation(), answer=answer)
    first, second = completion.tool_calls
    assert first.id != second.id and second.id == "g-7"


def test_a_tool_call_answer_in_json_mode_is_not_refused_for_lacking_text():
    _, completion = sent(tool_conversation(json_mode=True))
    assert completion.tool_calls


def _text_answer(text: str) -> dict:
    return {
        "candidates": [
            {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP"}
        ]
    }


def test_refs_fanning_out_cannot_blow_a_small_body_up():
    # 20 levels, each property referring twice to the next: 2**20 nodes if followed naively.
    defs = {
        f"L{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/L{i + 1}"}, "b": {"$ref": f"#/$defs/L{i + 1}"}},
        }
        for i in range(20)
    }
    out = schema_out({"$defs": defs, "$ref": "#/$defs/L0"})
    assert len(json.dumps(out)) < 500_000


def test_penalties_and_tools_with_json_skip_gemini_but_zero_penalties_do_not():
    from llmfallback.providers.capabilities import DEFAULTS, lacking

    class G:
        capabilities = DEFAULTS["gemini"]

    hi = (Message("user", "Hi"),)
    assert lacking(G, ChatRequest(hi, frequency_penalty=0.5).needs) == {"penalties"}
    assert lacking(G, ChatRequest(hi, tools=(WEATHER,), json_mode=True).needs) == {
        "tools_with_json"
    }
    assert not lacking(G, ChatRequest(hi, tools=(WEATHER,)).needs)


def test_a_seed_wider_than_int32_is_folded_into_geminis_range():
    body, _ = sent(ChatRequest((Message("user", "Hi"),), seed=2**40 + 5), answer=_text_answer("ok"))
    assert body["generationConfig"]["seed"] == 5
