"""Every string a page shows under `es` is Spanish: the catalogues are complete, and a walk of
the operator's pages finds no text that is left as it is in English.

The walk renders each page twice, in English and in Spanish, and compares what a person reads
(text and the labels of controls). A text shown alike in both is untranslated unless it is a
name or a figure (a provider, a key label, a code, a number): those are listed in NAMES.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from congress.models import Proposal, Voter
from llmfallback import services
from llmfallback.access import agent_keys
from llmfallback.models import AgentKey, AuditEntry, ErrorEvent, Escalation, ProviderHealth
from llmfallback.runtime import provider_rows_sync

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = [
    ROOT / "llmfallback/locale/es/LC_MESSAGES/django.po",
    ROOT / "congress/locale/es/LC_MESSAGES/django.po",
]
SKIP_TAGS = {"script", "style", "code", "pre", "time", "svg", "textarea", "option"}
# Shown alike in both languages on purpose: names, units and words Spanish borrows.
NAMES = {
    "d8 LLM Fallback",
    "groq",
    "gemini",
    "deepseek",
    "k1",
    "p50",
    "p95",
    "24 h",
    "HTTP",
    "ms",
    "UTC",
    "OpenAPI",
    "Swagger UI",
    "curl",
    "JSON",
    "ops",
    "e2e-agent",
    "admin",
    "Django",
    "Markdown",
    "—",
    "·",
    "→",
    "↑",
    "↓",
    "✓",
    "×",
    "-",
    "+",
    "LLM",
    "API",
    "ID",
    "Total",
    "LLM Fallback",
    "YAML",
    "Actor",
    # error classes are identifiers agents match on (docs/failures.md), shown as they are
    "rate_limit",
    "quota",
    "auth",
    "unavailable",
    "timeout",
    "invalid_response",
    "content_filter",
    "bad_request",
    "unknown",
    "unsupported",
    "Django Q",  # an installed app's name
    "Axes",  # django-axes, the staff logins' lockout: a name
}


class _Texts(HTMLParser):
    """Text and control labels, outside code, scripts and content marked translate="no"
    (what people filed, such as a proposal's Markdown)."""

    VOID = {"br", "hr", "img", "input", "meta", "link", "col", "area", "base", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.skip, self.texts, self.stack = 0, [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skipped = tag in SKIP_TAGS or attrs.get("translate") == "no"
        if tag not in self.VOID:
            self.stack.append(skipped)
            self.skip += skipped
        if self.skip:
            return
        for name in ("title", "aria-label", "placeholder"):
            if attrs.get(name):
                self.texts.append(attrs[name].strip())

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.skip -= self.stack.pop()

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def texts(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def is_name_or_figure(text: str, data: set[str] = frozenset()) -> bool:
    if text in NAMES or not re.search(r"[A-Za-z]{3,}", text):
        return True
    if any(text in d for d in data):  # what agents, providers or the engine wrote: not UI
        return True
    if _identifiers(text):
        return True
    for d in data:  # a label made of stored values ("PROP-1a2b · <title>"): judge the rest
        if len(d) > 3 and d in text:
            text = text.replace(d, " ")
    if not re.search(r"[A-Za-z]{3,}", text):
        return True
    return _identifiers(text)


def _identifiers(text: str) -> bool:
    """Only identifiers and codes: snake_case, paths, URLs, model names, acronyms."""
    words = re.findall(r"[A-Za-z][\w.:/@<>-]*", text)
    return all(re.search(r"[_./:@\d<>]|\w-\w|^[A-Z]{2,}$", w) or w in NAMES for w in words)


def po_entries(path: Path):
    """(msgid, msgstr, fuzzy) of each entry of a .po file, plurals as their first form."""
    entries, fuzzy, field, msg = [], False, None, {}
    for line in path.read_text().splitlines() + [""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith(("msgid ", "msgid_plural ", "msgstr ", "msgstr[0] ", "msgstr[1] ")):
            field, rest = line.split(" ", 1)
            msg[field] = msg.get(field, "") + eval(rest)  # a C string literal, as Python reads it
        elif line.startswith('"') and field:
            msg[field] += eval(line)
        elif not line.strip() and msg:
            if msg.get("msgid"):
                strs = [msg.get(k, "") for k in ("msgstr", "msgstr[0]", "msgstr[1]") if k in msg]
                entries.append((msg["msgid"], strs, fuzzy))
            msg, fuzzy, field = {}, False, None
    return entries


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: p.parts[-4])
def test_every_message_of_the_catalogue_has_a_spanish_translation(catalogue):
    missing = [m for m, strs, fuzzy in po_entries(catalogue) if fuzzy or not all(strs)]
    assert not missing, f"untranslated or fuzzy in {catalogue.name}: {missing}"


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: p.parts[-4])
def test_the_compiled_catalogue_holds_every_translation(catalogue):
    """django.mo is committed: a .po edited without compiling would not reach the pages."""
    import gettext

    with catalogue.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = [m for m, strs, _ in po_entries(catalogue) if compiled.gettext(m) != strs[0]]
    assert not stale, f"run compilemessages: {stale}"


@pytest.fixture
def incident(db, use_providers, sim, settings):
    """A night the operator pages show: one escalation with its proposal, errors, audit."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    provider_rows_sync()
    for name in ("groq", "gemini", "deepseek"):
        sim.script(name, [{"behavior": "unavailable", "times": -1}])
    _, key = agent_keys.agent_key_create(name="e2e-agent")
    client = Client()
    response = client.post(
        "/api/llm/chat",
        {"messages": [{"role": "user", "content": "hello"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 503
    services.provider_cooldown_reset(name="groq", by="user:ops")
    ProviderHealth.objects.filter(name="deepseek").update(is_enabled=False)
    Voter.objects.create(name="user:ops", weight=2)
    return Escalation.objects.get()


def stored_text() -> set[str]:
    """Every text the database holds (messages, provider errors, the filed proposal's body,
    JSON columns as the admin shows them), and each of its lines."""
    import json

    from django.apps import apps

    found = set()
    for model in apps.get_app_config("llmfallback").get_models():
        found |= _texts_of(model)
    for model in apps.get_app_config("congress").get_models():
        found |= _texts_of(model)
    for value in list(found):
        found |= {line.strip() for line in value.splitlines() if line.strip()}
    return found | {json.dumps(v, ensure_ascii=False) for v in list(found)}


def _texts_of(model) -> set[str]:
    import json

    found = set()
    for row in model.objects.values():
        for value in row.values():
            if isinstance(value, str) and value:
                found.add(value)
            elif isinstance(value, (dict, list)) and value:
                found.add(json.dumps(value, ensure_ascii=False))
                found.add(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
                found |= (
                    {m.get("content", "") for m in value if isinstance(m, dict)}
                    if isinstance(value, list)
                    else set()
                )
                found |= (
                    {m.get("role", "") for m in value if isinstance(m, dict)}
                    if isinstance(value, list)
                    else set()
                )
    return found


def pages(incident) -> list[str]:
    proposal = Proposal.objects.get()
    urls = ["/dashboard/llm", "/docs/api", "/accounts/logout/", "/admin/"]
    for model, obj in [
        ("congress_proposal", proposal),
        ("congress_voter", Voter.objects.first()),
        ("llmfallback_escalation", incident),
        ("llmfallback_providerhealth", ProviderHealth.objects.get(name="groq")),
        ("llmfallback_agentkey", AgentKey.objects.first()),
        ("llmfallback_errorevent", ErrorEvent.objects.first()),
        ("llmfallback_auditentry", AuditEntry.objects.first()),
    ]:
        urls += [
            reverse(f"admin:{model}_changelist"),
            reverse(f"admin:{model}_change", args=[obj.pk]),
        ]
    return urls


def test_every_page_an_operator_reads_is_spanish_under_es(incident):
    superuser = User.objects.create_superuser("ops", password="pw-ops-123")
    client = Client()
    client.force_login(superuser)
    untranslated, data = {}, stored_text()
    for url in pages(incident):
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        spanish = client.get(url, HTTP_ACCEPT_LANGUAGE="es")
        assert english.status_code == spanish.status_code == 200, url
        alike = set(texts(english.content.decode())) & set(texts(spanish.content.decode()))
        left = sorted(t for t in alike if not is_name_or_figure(t, data))
        if left:
            untranslated[url] = left
    assert not untranslated, "\n".join(f"{u}: {t}" for u, t in untranslated.items())
