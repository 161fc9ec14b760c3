"""The dashboard's open escalations: each with its Congress proposal, tally and admin links."""

from django.utils import timezone

from congress.models import Proposal, Vote
from llmfallback.models import Escalation


def test_open_escalations_show_their_proposal_tally_and_admin_links(staff_client, providers):
    now = timezone.now()
    proposal = Proposal.objects.create(title="Fallo crítico LLM", proposed_by="system")
    Vote.objects.create(proposal=proposal, voter="agent:a", choice="yes")
    Vote.objects.create(proposal=proposal, voter="agent:b", choice="yes", weight=2)
    Vote.objects.create(proposal=proposal, voter="agent:c", choice="no")
    esc = Escalation.objects.create(
        number=7,
        trigger="all_failed",
        reason="Every provider failed",
        proposal=proposal,
        opened_at=now,
        first_seen_at=now,
        last_seen_at=now,
    )
    Escalation.objects.create(
        number=6,
        status="recovered",
        trigger="all_failed",
        reason="Old one",
        opened_at=now,
        first_seen_at=now,
        last_seen_at=now,
    )
    html = staff_client.get("/dashboard/llm").content.decode()
    panel = html[html.index('id="escalations"') : html.index('id="audit"')]
    assert "#7 · Every provider failed" in panel and "Old one" not in panel
    assert f'href="/admin/llmfallback/escalation/{esc.pk}/change/"' in panel
    assert f'href="/admin/congress/proposal/{proposal.pk}/change/"' in panel
    assert "for 3 · against 1 · abstain 0" in " ".join(panel.split())
