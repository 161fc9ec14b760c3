import httpx

from llmfallback.core.ports import ApiKey
from llmfallback.providers import Gemini, OpenAICompatible, build_providers, parse_provider_configs


def by_name(env):
    return {c.name: c for c in parse_provider_configs(env)}


def test_defaults_give_three_providers_missing_their_keys():
    configs = parse_provider_configs({})
    assert [c.name for c in configs] == ["groq", "gemini", "deepseek"]
    groq, gemini, deepseek = configs
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.model == "llama-3.3-70b-versatile" and groq.missing == "GROQ_API_KEY"
    assert gemini.kind == "gemini" and gemini.model == "gemini-2.5-flash"
    assert gemini.missing == "GEMINI_API_KEY"
    assert (
        deepseek.base_url == "https://api.deepseek.com" and deepseek.missing == "DEEPSEEK_API_KEY"
    )
    assert groq.keys == (ApiKey("default"),)


def test_priority_is_lower_cased_stripped_and_deduplicated():
    env = {"LLM_PROVIDER_PRIORITY": " Gemini , GROQ,,gemini "}
    assert [c.name for c in parse_provider_configs(env)] == ["gemini", "groq"]


def test_comma_separated_keys_get_positional_labels():
    config = by_name({"GROQ_API_KEY": "gsk_one, gsk_two"})["groq"]
    assert [k.label for k in config.keys] == ["k1", "k2"]
    assert [k.secret for k in config.keys] == ["gsk_one", "gsk_two"]
    assert config.missing == ""


def test_repr_never_shows_secrets():
    config = by_name({"GROQ_API_KEY": "gsk_supersecret"})["groq"]
    assert "gsk_supersecret" not in repr(config)
    assert "k1" in repr(config)


def test_deepseek_with_a_base_url_needs_no_key():
    config = by_name({"DEEPSEEK_BASE_URL": "http://localhost:7100/"})["deepseek"]
    assert config.missing == "" and config.base_url == "http://localhost:7100"


def test_other_names_are_openai_compatible_and_need_url_and_model():
    env = {"LLM_PROVIDER_PRIORITY": "ollama,vllm", "OLLAMA_BASE_URL": "http://localhost:11434/v1"}
    ollama, vllm = parse_provider_configs(env)
    assert ollama.kind == "openai" and ollama.missing == "OLLAMA_MODEL"
    assert vllm.missing == "VLLM_BASE_URL, VLLM_MODEL"
    env["OLLAMA_MODEL"] = "llama3.2"
    assert parse_provider_configs(env)[0].missing == ""


def test_build_providers_shares_one_client_and_picks_the_adapter():
    client = httpx.Client()
    env = {"GROQ_API_KEY": "gsk_x", "GEMINI_API_KEY": "AIza_x"}
    groq, gemini, deepseek = build_providers(parse_provider_configs(env), client)
    assert isinstance(groq, OpenAICompatible) and groq.max_tokens_field == "max_completion_tokens"
    assert isinstance(gemini, Gemini) and isinstance(deepseek, OpenAICompatible)
    assert deepseek.max_tokens_field == "max_tokens"
    assert groq.client is gemini.client is client
    assert deepseek.missing == "DEEPSEEK_API_KEY" and groq.name == "groq"
